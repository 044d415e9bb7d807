"""Pytest fixtures: a real embedded stack per test session, on free ports, stopped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """Kafka (Tansu), MongoDB-wire (nx-27017) and Redis, started once for the session."""
    state_dir = tmp_path_factory.mktemp("stack")
    stack = EmbeddedStack(state_dir, StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def unique_name() -> str:
    """A fresh name for a database, group or dataset so tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:12]}"


def service_env(stack: EmbeddedStack, prefix: str, db_name: str, **extra: str) -> dict[str, str]:
    env = {
        **stack.env(prefix),
        f"{prefix}MONGO_DB": db_name,
        f"{prefix}MODE": "test",
        f"{prefix}KAFKA_SESSION_TIMEOUT_MS": "6000",
        f"{prefix}KAFKA_HEARTBEAT_INTERVAL_MS": "300",
        f"{prefix}KAFKA_REBALANCE_TIMEOUT_MS": "6000",
        f"{prefix}LOG_JSON": "false",
    }
    env.update({f"{prefix}{k.upper()}": v for k, v in extra.items()})
    return env


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def _set(values: dict[str, str]) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return _set


def repo_root() -> Path:
    return Path(__file__).resolve().parents[4]


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (read in place, never copied)."""
    env = os.environ.get("CLAYSTREAM_SHARED_DATA")
    return Path(env) if env else repo_root().parent / "shared" / "data"
