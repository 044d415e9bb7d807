"""Secrets: production mode refuses default secrets and weak passwords for every service, and the JSON log
formatter never prints secret values (by field name at any depth, or API keys wherever they appear)."""

from __future__ import annotations

import importlib
import io
import json
import logging
import uuid
from typing import Any

import pytest

from claystream_common.apikeys import generate_api_key
from claystream_common.logs import JsonFormatter
from claystream_common.settings import BaseAppSettings, SettingsError, load_settings

SERVICES = ("ingest", "annotate", "trainer", "monitor")
STRONG = "s3cr3t-" + "x" * 32  # not a default, not "dev-..."


def settings_class(service: str) -> type[BaseAppSettings]:
    """The service's Settings class: the BaseAppSettings subclass defined in claystream_<service>.config."""
    module = importlib.import_module(f"claystream_{service}.config")
    found = [
        value for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseAppSettings) and value.__module__ == module.__name__
    ]
    assert len(found) == 1, f"expected one settings class in {module.__name__}, found {found}"
    return found[0]


def env_prefix(cls: type[BaseAppSettings]) -> str:
    return str(cls.model_config.get("env_prefix", ""))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CLAYSTREAM_* variable from the surrounding shell may supply a secret."""
    import os

    for name in list(os.environ):
        if name.startswith("CLAYSTREAM_"):
            monkeypatch.delenv(name)
    return monkeypatch


def secret_names(cls: type[BaseAppSettings]) -> list[str]:
    names = sorted(load_settings(cls, mode="development").secret_values())
    assert {"secret_key", "service_token"} <= set(names)
    return names


# --------------------------------------------------------------------------- production settings
@pytest.mark.parametrize("service", SERVICES)
def test_production_refuses_every_default_secret_naming_the_variable(
    service: str, clean_env: pytest.MonkeyPatch
) -> None:
    cls = settings_class(service)
    names = secret_names(cls)
    for name in names:
        others = {other: STRONG for other in names if other != name}
        with pytest.raises(SettingsError) as refused:
            load_settings(cls, mode="production", **others)
        variable = f"{env_prefix(cls)}{name}".upper()
        assert variable in refused.value.message, refused.value.message
        assert "production" in refused.value.message


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("weak", ["dev-my-own-secret-value", "dev-insecure-secret-change-me"])
def test_production_refuses_dev_secrets_given_explicitly(
    service: str, weak: str, clean_env: pytest.MonkeyPatch
) -> None:
    cls = settings_class(service)
    for name in secret_names(cls):
        values = {other: STRONG for other in secret_names(cls)} | {name: weak}
        with pytest.raises(SettingsError, match=f"{env_prefix(cls)}{name}".upper()):
            load_settings(cls, mode="production", **values)


@pytest.mark.parametrize("service", SERVICES)
def test_production_refusal_through_the_environment(service: str, clean_env: pytest.MonkeyPatch) -> None:
    """The path a deployment takes: MODE=production in the environment, secrets left out."""
    cls = settings_class(service)
    clean_env.setenv(f"{env_prefix(cls)}MODE", "production")
    with pytest.raises(SettingsError, match=f"{env_prefix(cls)}SECRET_KEY"):
        load_settings(cls)
    clean_env.setenv(f"{env_prefix(cls)}SECRET_KEY", STRONG)
    with pytest.raises(SettingsError, match=f"{env_prefix(cls)}SERVICE_TOKEN"):
        load_settings(cls)


@pytest.mark.parametrize("service", SERVICES)
def test_production_starts_with_real_secrets(service: str, clean_env: pytest.MonkeyPatch) -> None:
    cls = settings_class(service)
    settings = load_settings(cls, mode="production", **{name: STRONG for name in secret_names(cls)})
    assert settings.is_production
    assert all(value == STRONG for value in settings.secret_values().values())


@pytest.mark.parametrize("password", ["", "admin", "password", "changeme", "short-pw"])
def test_production_refuses_a_weak_first_owner_password(password: str, clean_env: pytest.MonkeyPatch) -> None:
    cls = settings_class("annotate")
    if "owner_password" not in cls.model_fields:
        pytest.skip("annotate has no first-owner password setting")
    secrets = {name: STRONG for name in secret_names(cls)}
    with pytest.raises(SettingsError, match="CLAYSTREAM_ANNOTATE_OWNER_PASSWORD"):
        load_settings(cls, mode="production", owner_username="root", owner_password=password, **secrets)
    load_settings(cls, mode="production", owner_username="root", owner_password="a-long-real-passphrase", **secrets)


# --------------------------------------------------------------------------- logs
def _log(
    message: str, *args: Any, fields: dict[str, Any] | None = None, exc: BaseException | None = None
) -> dict[str, Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"claystream.test.secrets.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    logger.info(message, *args, extra={"fields": fields or {}}, exc_info=exc_info)
    logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


SECRET_FIELDS = [
    "password", "owner_password", "new_password", "api_key", "X-API-Key", "apiKey", "secret_key", "client_secret",
    "service_token", "csrf_token", "Authorization", "Cookie", "set-cookie",
]


@pytest.mark.parametrize("name", SECRET_FIELDS)
def test_json_formatter_redacts_secret_like_fields(name: str) -> None:
    secret = f"hunter2-{uuid.uuid4().hex}"
    line = _log("user logged in", fields={name: secret, "user": "alice", "records": 3})
    assert line[name] == "***"
    assert line["user"] == "alice" and line["records"] == 3  # other fields are kept
    assert secret not in json.dumps(line)


def test_json_formatter_redacts_secret_fields_at_any_depth() -> None:
    secret = f"hunter2-{uuid.uuid4().hex}"
    line = _log("request", fields={
        "request": {"method": "POST", "headers": {"X-API-Key": secret, "Accept": "application/json"}},
        "attempts": [{"password": secret}, {"username": "bob"}],
    })
    text = json.dumps(line)
    assert secret not in text
    assert line["request"]["headers"] == {"X-API-Key": "***", "Accept": "application/json"}
    assert line["attempts"][1] == {"username": "bob"}


def test_json_formatter_masks_api_keys_wherever_they_appear() -> None:
    key = generate_api_key().plaintext
    secret_part = key.split("_", 2)[2]
    try:
        raise ValueError(f"lookup failed for {key}")
    except ValueError as error:
        line = _log("bad key %s", key, fields={"note": f"caller sent {key}", "detail": [key]}, exc=error)
    text = json.dumps(line)
    assert key not in text and secret_part not in text
    assert "cs_***" in line["msg"] and "cs_***" in line["note"] and "cs_***" in line["exc"]


def test_json_formatter_masks_api_keys_in_non_json_values() -> None:
    key = generate_api_key().plaintext

    class Holder:
        def __str__(self) -> str:
            return f"Holder({key})"

    line = _log("object", fields={"holder": Holder()})
    assert key not in json.dumps(line) and line["holder"] == "Holder(cs_***)"


def test_plain_fields_pass_through_unchanged() -> None:
    """The redaction must not eat ordinary data (else the tests above could pass by printing nothing)."""
    line = _log("stored %d records", 5, fields={"dataset": "imdb", "workspace": "acme", "ids": ["a", "b"]})
    assert line["msg"] == "stored 5 records"
    assert line["dataset"] == "imdb" and line["workspace"] == "acme" and line["ids"] == ["a", "b"]
    assert line["level"] == "INFO"
