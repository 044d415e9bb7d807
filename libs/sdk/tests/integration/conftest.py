"""The real annotate and ingest services (uvicorn subprocesses) on the session's embedded stack,
with their own database; an admin API key made by ``claystream keys create``; the SDK signed in as the owner."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack
from claystream_devstack.services import ServiceLauncher
from typer.testing import CliRunner

from claystream import Client
from claystream.cli import app

WORKSPACE = "sdk"
NAMES = ("annotate", "ingest")
OWNER, OWNER_PASSWORD = "owner", "owner-password-1"


def _env(db: str) -> dict[str, str]:
    env = {"CLAYSTREAM_ANNOTATE_OWNER_USERNAME": OWNER, "CLAYSTREAM_ANNOTATE_OWNER_PASSWORD": OWNER_PASSWORD,
           "CLAYSTREAM_ANNOTATE_OWNER_WORKSPACE": WORKSPACE, "CLAYSTREAM_ANNOTATE_OUTBOX_POLL_S": "0.1",
           "CLAYSTREAM_INGEST_RATE_LIMIT_PER_S": "100000"}
    for name in NAMES:
        prefix = f"CLAYSTREAM_{name.upper()}_"
        env |= {f"{prefix}MONGO_DB": db, f"{prefix}KAFKA_CONSUMER_GROUP": f"{name}-{db}", f"{prefix}LOG_JSON": "false",
                f"{prefix}KAFKA_SESSION_TIMEOUT_MS": "6000", f"{prefix}KAFKA_HEARTBEAT_INTERVAL_MS": "300",
                f"{prefix}KAFKA_REBALANCE_TIMEOUT_MS": "6000"}
    return env


@pytest.fixture(scope="session")
def services(embedded_stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    db = f"sdk{uuid.uuid4().hex[:10]}"
    view = EmbeddedStack(tmp_path_factory.mktemp("sdk-services"), embedded_stack.ports)  # same servers, own pid files
    launcher = ServiceLauncher(view, extra_env=_env(db))
    launcher.ports = {name: free_port() for name in NAMES}
    launcher.start(NAMES, timeout_s=180)
    try:
        result = CliRunner().invoke(app, ["keys", "create", "--workspace", WORKSPACE, "--name", "sdk-tests", "--role", "admin",
                                          "--mongo-url", embedded_stack.ports.mongo_url, "--mongo-db", db])
        assert result.exit_code == 0, result.output
        yield SimpleNamespace(ingest=launcher.url("ingest"), annotate=launcher.url("annotate"), api_key=result.stdout.strip(),
                              mongo_url=embedded_stack.ports.mongo_url, db=db, workspace=WORKSPACE)
    finally:
        launcher.stop(NAMES)


@pytest.fixture
def client(services: SimpleNamespace) -> Iterator[Client]:
    with Client(services.ingest, services.api_key, annotate_url=services.annotate) as made:
        yield made


@pytest.fixture(scope="session")
def owner(services: SimpleNamespace) -> Iterator[Client]:
    """The SDK signed in as the owner: people and API keys are managed by signed-in admins and owners,
    never by an API key (SECURITY.md)."""
    with Client.login(services.annotate, OWNER, OWNER_PASSWORD, workspace=WORKSPACE) as signed_in:
        yield signed_in


@pytest.fixture
def make_annotator(owner: Client) -> Callable[[], str]:
    """Makes a new annotator of the workspace (through the signed-in SDK); returns its username."""

    def make() -> str:
        name = f"a{uuid.uuid4().hex[:8]}"
        owner.users.create(name, "a-long-password-1", role="annotator")
        return name

    return make


def wait_for(probe: Callable[[], Any], *, timeout_s: float = 60.0, what: str = "the condition") -> Any:
    """Poll until ``probe()`` is truthy (logging and response effects are asynchronous)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def poll() -> Callable[..., Any]:
    return wait_for
