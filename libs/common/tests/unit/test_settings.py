"""Settings: one env prefix per service, fail fast naming the variable, no default secrets in production."""

from __future__ import annotations

import pytest
from claystream_common.settings import DEFAULT_SECRET_KEY, BaseAppSettings, RunMode, SettingsError, load_settings
from pydantic_settings import SettingsConfigDict

PREFIX = "CLAYSTREAM_UNITSVC_"


class UnitSettings(BaseAppSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    service_name: str = "unitsvc"

    def secret_values(self) -> dict[str, str | None]:
        return {**super().secret_values(), "webhook_secret": self.webhook_secret}

    webhook_secret: str | None = None


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("CLAYSTREAM_"):
            monkeypatch.delenv(key)


def test_reads_only_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}MONGO_DB", "unit_db")
    monkeypatch.setenv(f"{PREFIX}KAFKA_SESSION_TIMEOUT_MS", "6000")
    monkeypatch.setenv("CLAYSTREAM_OTHER_MONGO_DB", "someone_elses")
    monkeypatch.setenv("CLAYSTREAM_MONGO_DB", "unprefixed")
    settings = load_settings(UnitSettings)
    assert settings.mongo_db == "unit_db"
    assert settings.kafka_session_timeout_ms == 6000
    assert settings.mode is RunMode.DEVELOPMENT
    assert settings.consumer_group == "claystream-unitsvc"


def test_defaults_need_no_environment() -> None:
    settings = load_settings(UnitSettings)
    assert settings.mongo_db == "claystream"
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("KAFKA_SESSION_TIMEOUT_MS", "abc", "valid integer"),
        ("KAFKA_HEARTBEAT_INTERVAL_MS", "10", "greater than or equal to 100"),
        ("CONSUMER_BACKOFF_INITIAL_S", "-1", "greater than 0"),
        ("CONSUMERS_ENABLED", "maybe", "valid boolean"),
        ("MODE", "staging", "development"),
        ("SECRET_KEY", "short", "at least 16 characters"),
    ],
)
def test_malformed_values_fail_fast_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(f"{PREFIX}{variable}", value)
    with pytest.raises(SettingsError) as caught:
        load_settings(UnitSettings)
    message = str(caught.value.message)
    assert f"{PREFIX}{variable}" in message
    assert reason in message
    assert isinstance(caught.value, SystemExit) and caught.value.code  # a clean, non-zero process exit


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}KAFKA_SESSION_TIMEOUT_MS", "abc")
    monkeypatch.setenv(f"{PREFIX}MONGO_TIMEOUT_MS", "1")
    with pytest.raises(SettingsError) as caught:
        load_settings(UnitSettings)
    assert f"{PREFIX}KAFKA_SESSION_TIMEOUT_MS" in caught.value.message
    assert f"{PREFIX}MONGO_TIMEOUT_MS" in caught.value.message


def test_production_refuses_the_default_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}MODE", "production")
    monkeypatch.setenv(f"{PREFIX}SERVICE_TOKEN", "a-strong-service-token-0123456789")
    monkeypatch.setenv(f"{PREFIX}WEBHOOK_SECRET", "a-strong-webhook-secret-0123456789")
    with pytest.raises(SettingsError) as caught:
        load_settings(UnitSettings)
    assert f"{PREFIX}SECRET_KEY" in caught.value.message
    assert "production" in caught.value.message


@pytest.mark.parametrize("missing", ["SERVICE_TOKEN", "WEBHOOK_SECRET"])
def test_production_refuses_every_default_or_empty_secret(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setenv(f"{PREFIX}MODE", "production")
    values = {
        "SECRET_KEY": "a-strong-secret-key-0123456789",
        "SERVICE_TOKEN": "a-strong-service-token-0123456789",
        "WEBHOOK_SECRET": "a-strong-webhook-secret-0123456789",
    }
    del values[missing]
    for key, value in values.items():
        monkeypatch.setenv(f"{PREFIX}{key}", value)
    with pytest.raises(SettingsError) as caught:
        load_settings(UnitSettings)
    assert f"{PREFIX}{missing}" in caught.value.message


def test_production_refuses_dev_prefixed_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}MODE", "production")
    monkeypatch.setenv(f"{PREFIX}SECRET_KEY", "dev-looks-long-enough-but-is-a-dev-value")
    monkeypatch.setenv(f"{PREFIX}SERVICE_TOKEN", "a-strong-service-token-0123456789")
    monkeypatch.setenv(f"{PREFIX}WEBHOOK_SECRET", "a-strong-webhook-secret-0123456789")
    with pytest.raises(SettingsError, match=f"{PREFIX}SECRET_KEY"):
        load_settings(UnitSettings)


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}MODE", "production")
    monkeypatch.setenv(f"{PREFIX}SECRET_KEY", "a-strong-secret-key-0123456789")
    monkeypatch.setenv(f"{PREFIX}SERVICE_TOKEN", "a-strong-service-token-0123456789")
    monkeypatch.setenv(f"{PREFIX}WEBHOOK_SECRET", "a-strong-webhook-secret-0123456789")
    settings = load_settings(UnitSettings)
    assert settings.is_production
    assert settings.secret_key != DEFAULT_SECRET_KEY


def test_development_accepts_the_default_secrets() -> None:
    assert load_settings(UnitSettings).secret_key == DEFAULT_SECRET_KEY


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}MONGO_DB", "from_env")
    assert load_settings(UnitSettings, mongo_db="explicit").mongo_db == "explicit"
