"""schemathesis against every service's OpenAPI, in-process, on the real embedded stack.

Each service runs as ``create_app(settings)`` inside schemathesis' ASGI transport (its lifespan is started
once, on schemathesis' event-loop thread, and stopped at the end of the module), with a real Kafka /
MongoDB / Redis from the ``embedded_stack`` fixture.  Calls carry the service token
(``Authorization: Bearer`` + ``X-Claystream-Workspace``) so the fuzzing reaches the handlers, not just
401s; path parameters that name the workspace, the dataset and a record are pinned to real ones for most
cases (a seeded dataset with records that travelled ingest → Kafka → annotate), so the bodies and queries
are fuzzed against live objects.

Checks: no 5xx (``not_a_server_error``) and every documented response matches its schema
(``response_schema_conformance``), plus ``content_type_conformance``.  Excluded: ``/metrics``
(Prometheus text), annotate's streamed ``/export`` and the HTML pages (not in the schemas).

Stateful: the schemas declare no OpenAPI links, so schemathesis' stateful runner is driven by the links it
infers (``schema.as_state_machine()``); bounded to a few short scenarios on annotate.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from claystream_common.settings import load_settings
from claystream_devstack.pytest_plugin import service_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TOKEN = "fuzz-service-token-0123456789abcdef"
WORKSPACE = "fuzzws"
DATASET = "fuzz-reviews"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
FUZZ = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
HEADERS = {"Authorization": f"Bearer {TOKEN}", "X-Claystream-Workspace": WORKSPACE}


def _settings(cls: type[Any], stack: Any, name: str, db: str, **extra: str) -> Any:
    prefix = f"CLAYSTREAM_{name.upper()}_"
    env = service_env(stack, prefix, db, service_token=TOKEN, kafka_consumer_group=f"{name}-{db}", **extra)
    return load_settings(cls, **{key.removeprefix(prefix).lower(): value for key, value in env.items()})


def _apps(stack: Any, db: str, models_dir: str) -> dict[str, Any]:
    from claystream_annotate.config import AnnotateSettings
    from claystream_annotate.main import create_app as annotate_app
    from claystream_ingest.config import IngestSettings
    from claystream_ingest.main import create_app as ingest_app
    from claystream_monitor.config import MonitorSettings
    from claystream_monitor.main import create_app as monitor_app
    from claystream_trainer.config import TrainerSettings
    from claystream_trainer.main import create_app as trainer_app

    return {
        "annotate": annotate_app(_settings(AnnotateSettings, stack, "annotate", db, outbox_poll_s="0.2")),
        "ingest": ingest_app(_settings(IngestSettings, stack, "ingest", db)),
        "trainer": trainer_app(_settings(TrainerSettings, stack, "trainer", db, embedder="hashing", consumers_enabled="false",
                                         finetune_enabled="false", models_dir=models_dir)),
        "monitor": monitor_app(_settings(MonitorSettings, stack, "monitor", db, embedder="none", consumers_enabled="false")),
    }


def _wait_ready(client: Any, name: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} not ready after {timeout_s:.0f}s: {client.get('/readyz').text}")
        time.sleep(0.2)


def _seed(clients: dict[str, Any]) -> list[str]:
    """A dataset and a few records (through ingest → Kafka → annotate); returns the stored record ids."""
    body = {"name": DATASET, "fields": [{"name": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
            "metadata_properties": [{"name": "source", "type": "terms"}, {"name": "score", "type": "float"}],
            "trainer": {"enabled": False}}
    created = clients["annotate"].post(f"/api/v1/workspaces/{WORKSPACE}/datasets", json=body, headers=HEADERS)
    assert created.status_code == 201, created.text
    items = [{"external_id": f"r{i}", "fields": {"text": f"review number {i}"}, "metadata": {"source": "fuzz"}}
             for i in range(5)]
    deadline = time.monotonic() + 30
    while True:  # ingest caches dataset lookups for a few seconds
        sent = clients["ingest"].post(f"/api/v1/datasets/{DATASET}/records:bulk", json={"items": items}, headers=HEADERS)
        if sent.status_code == 202 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sent.status_code == 202, sent.text
    url = f"/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}/records"
    while time.monotonic() < deadline + 30:
        listed = clients["annotate"].get(url, headers=HEADERS).json()
        if len(listed.get("items", [])) == len(items):
            return [str(item["id"]) for item in listed["items"]]
        time.sleep(0.3)
    raise AssertionError("seeded records never reached annotate")


@pytest.fixture(scope="module")
def fuzz_apps(embedded_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db = f"fuzz{int(time.time() * 1000) % 10**9}"
    apps = _apps(embedded_stack, db, str(tmp_path_factory.mktemp("fuzz-models")))
    clients = {name: asgi.get_client(app) for name, app in apps.items()}
    try:
        for name, client in clients.items():  # the first call starts the app's lifespan
            _wait_ready(client, name)
        record_ids = _seed(clients)
        yield {"apps": apps, "record_ids": record_ids}
    finally:
        for client in clients.values():
            client.close()
        asgi.shutdown_lifespans()


def _schema(fuzz_apps: dict[str, Any], name: str) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_apps["apps"][name])
    return schema.exclude(path_regex=r"^/metrics$").exclude(path_regex=r"/export$")


@pytest.fixture(scope="module")
def annotate_schema(fuzz_apps: dict[str, Any]) -> Any:
    return _schema(fuzz_apps, "annotate")


@pytest.fixture(scope="module")
def ingest_schema(fuzz_apps: dict[str, Any]) -> Any:
    return _schema(fuzz_apps, "ingest")


@pytest.fixture(scope="module")
def trainer_schema(fuzz_apps: dict[str, Any]) -> Any:
    return _schema(fuzz_apps, "trainer")


@pytest.fixture(scope="module")
def monitor_schema(fuzz_apps: dict[str, Any]) -> Any:
    return _schema(fuzz_apps, "monitor")


def _pin(case: Any, record_ids: list[str]) -> None:
    """Point most cases at the live workspace / dataset / record (the fuzzed value stays for some)."""
    params = case.path_parameters or {}
    digest = sum(map(ord, repr(sorted(params.items()))))
    if "workspace" in params:
        params["workspace"] = WORKSPACE
    if "dataset" in params and (digest % 4 or case.method != "DELETE"):
        params["dataset"] = DATASET if case.method != "DELETE" else params["dataset"]
    if "record_id" in params and digest % 3:
        params["record_id"] = record_ids[digest % len(record_ids)]


def _run(case: Any, fuzz_apps: dict[str, Any]) -> None:
    _pin(case, fuzz_apps["record_ids"])
    case.call_and_validate(headers=HEADERS, checks=CHECKS)


annotate_cases = schemathesis.pytest.from_fixture("annotate_schema")
ingest_cases = schemathesis.pytest.from_fixture("ingest_schema")
trainer_cases = schemathesis.pytest.from_fixture("trainer_schema")
monitor_cases = schemathesis.pytest.from_fixture("monitor_schema")


@annotate_cases.parametrize()
@FUZZ
def test_annotate_api(case: Any, fuzz_apps: dict[str, Any]) -> None:
    _run(case, fuzz_apps)


@ingest_cases.parametrize()
@FUZZ
def test_ingest_api(case: Any, fuzz_apps: dict[str, Any]) -> None:
    _run(case, fuzz_apps)


@trainer_cases.parametrize()
@FUZZ
def test_trainer_api(case: Any, fuzz_apps: dict[str, Any]) -> None:
    _run(case, fuzz_apps)


@monitor_cases.parametrize()
@FUZZ
def test_monitor_api(case: Any, fuzz_apps: dict[str, Any]) -> None:
    _run(case, fuzz_apps)
