"""Malformed settings stop a service at start, naming the variable (no half-started process)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from claystream_common.settings import SettingsError

SERVICES = ("ingest", "annotate", "trainer", "monitor")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAYSTREAM_")}
    env.update(extra)
    return env


@pytest.mark.slow
def test_the_ingest_process_exits_at_start_naming_the_bad_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "claystream_ingest.main:create_app", "--port", "0"],
        env=_clean_env(CLAYSTREAM_INGEST_KAFKA_SESSION_TIMEOUT_MS="abc"),
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "CLAYSTREAM_INGEST_KAFKA_SESSION_TIMEOUT_MS" in output
    assert "valid integer" in output
    assert "Traceback" not in output  # a clear message, not a stack trace
    assert "Uvicorn running" not in output


@pytest.mark.parametrize("service", SERVICES)
def test_create_app_loads_settings_and_fails_fast(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"CLAYSTREAM_{service.upper()}_"
    for key in list(os.environ):
        if key.startswith("CLAYSTREAM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv(f"{prefix}KAFKA_HEARTBEAT_INTERVAL_MS", "ten")
    main = importlib.import_module(f"claystream_{service}.main")
    with pytest.raises(SettingsError) as caught:
        main.create_app()
    assert f"{prefix}KAFKA_HEARTBEAT_INTERVAL_MS" in caught.value.message


@pytest.mark.parametrize("service", SERVICES)
def test_create_app_refuses_production_with_default_secrets(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"CLAYSTREAM_{service.upper()}_"
    for key in list(os.environ):
        if key.startswith("CLAYSTREAM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv(f"{prefix}MODE", "production")
    main = importlib.import_module(f"claystream_{service}.main")
    with pytest.raises(SettingsError) as caught:
        main.create_app()
    assert "production" in caught.value.message
    assert f"{prefix}SECRET_KEY" in caught.value.message or f"{prefix}SERVICE_TOKEN" in caught.value.message
