"""Fault tests: a private embedded stack and services as uvicorn subprocesses (stopping a server here never
touches the session's ``embedded_stack``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import SERVICES, ServiceLauncher

WORKSPACE = "faults"
DATASET = "fault-reviews"


def fast_env() -> dict[str, str]:
    env = {
        "CLAYSTREAM_TRAINER_EMBEDDER": "hashing", "CLAYSTREAM_TRAINER_FINETUNE_ENABLED": "false",
        "CLAYSTREAM_TRAINER_EMBED_FLUSH_S": "0.2", "CLAYSTREAM_MONITOR_EMBEDDER": "none",
        "CLAYSTREAM_ANNOTATE_OUTBOX_POLL_S": "0.2",
    }
    for spec in SERVICES:  # quick group joins and rebalances, short Mongo timeouts (readiness answers fast)
        env |= {f"{spec.env_prefix}KAFKA_SESSION_TIMEOUT_MS": "6000", f"{spec.env_prefix}KAFKA_HEARTBEAT_INTERVAL_MS": "300",
                f"{spec.env_prefix}KAFKA_REBALANCE_TIMEOUT_MS": "6000", f"{spec.env_prefix}LOG_JSON": "false",
                f"{spec.env_prefix}MONGO_TIMEOUT_MS": "1500"}
    return env


@contextmanager
def private_system(state_dir: Path, names: tuple[str, ...], *, extra_env: dict[str, str] | None = None,
                   ) -> Iterator[ServiceLauncher]:
    stack = EmbeddedStack(state_dir, StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
    stack.start()
    launcher = ServiceLauncher(stack, extra_env=fast_env() | (extra_env or {}))
    launcher.ports = {spec.name: free_port() for spec in SERVICES}
    try:
        launcher.start(names, timeout_s=180)
        yield launcher
    finally:
        launcher.stop(names)
        stack.stop()


def service_headers(launcher: ServiceLauncher) -> dict[str, str]:
    return {"Authorization": f"Bearer {launcher.dev_secrets()['SERVICE_TOKEN']}", "X-Claystream-Workspace": WORKSPACE}


def create_dataset(launcher: ServiceLauncher) -> dict[str, object]:
    body = {"name": DATASET, "fields": [{"name": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
            "trainer": {"enabled": False, "refresh_every": 10**9, "finetune_every": 10**9}}
    url = f"{launcher.url('annotate')}/api/v1/workspaces/{WORKSPACE}/datasets"
    answer = httpx.post(url, json=body, headers=service_headers(launcher), timeout=30)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def wait_until(probe, *, timeout_s: float, what: str, interval_s: float = 0.25):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


@pytest.fixture(scope="session")
def fault_kit() -> SimpleNamespace:
    """The helpers above, for the test modules (fixtures, not imports: conftest modules are not importable)."""
    return SimpleNamespace(private_system=private_system, service_headers=service_headers, create_dataset=create_dataset,
                           wait_until=wait_until, workspace=WORKSPACE, dataset=DATASET)
