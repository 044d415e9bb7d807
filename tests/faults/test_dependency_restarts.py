"""MongoDB-wire server and Redis restarted under the running services: not ready while down, ready again
after, and nothing that was accepted is lost.

The four services run as uvicorn subprocesses on a private stack.  For each dependency: stop it
(``EmbeddedStack.stop((name,))``) → every service's ``/readyz`` answers 503 within a few seconds; records
are POSTed to ingest during the outage (those answered 202 must survive; the others are sent again
afterwards with the same external ids, which is safe: record ids are deterministic); start it again →
every ``/readyz`` is 200 again and annotate stores every accepted record exactly once.

Kafka: the embedded broker (Tansu with ``memory://`` storage) keeps topics, messages and committed
consumer offsets in memory only, so restarting it locally loses all three: ``EmbeddedStack.restart("kafka")``
re-creates the topics empty, consumers start again from the (empty) beginning, and while it is down
ingest answers 503 (nothing half-accepted: a 202 is sent only after acks=all) and annotate's outbox keeps
unsent events in MongoDB until it is back.  Messages that were acknowledged but not yet consumed when the
broker died are gone locally.  Production Kafka (docker-compose / Kubernetes: apache/kafka with a data volume,
replication factor ≥ 3 and min.insync.replicas ≥ 2 on a real cluster) writes every acknowledged message to
the log on disk of several brokers before the ack, and stores committed offsets in the replicated
``__consumer_offsets`` topic, so a broker restart loses neither messages nor offsets; consumers resume at
their last commit.  That is why the local broker is not restarted in this test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from claystream_devstack.services import SERVICES, ServiceLauncher
from pymongo import MongoClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

NAMES = tuple(spec.name for spec in SERVICES)
# who must say "not ready" when a server is down: the predict role holds no Redis (no training state)
DEPENDS_ON = {"mongo": NAMES, "redis": tuple(name for name in NAMES if name != "predict")}
NOT_READY_WITHIN_S = 20.0
READY_AGAIN_WITHIN_S = 90.0


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, fault_kit: SimpleNamespace) -> Iterator[ServiceLauncher]:
    with fault_kit.private_system(tmp_path_factory.mktemp("restarts"), NAMES) as launcher:
        fault_kit.create_dataset(launcher)
        yield launcher


def readiness(launcher: ServiceLauncher) -> dict[str, int]:
    codes = {}
    for name in NAMES:
        try:
            codes[name] = httpx.get(f"{launcher.url(name)}/readyz", timeout=10).status_code
        except httpx.HTTPError:
            codes[name] = -1
    return codes


def post_records(launcher: ServiceLauncher, kit: SimpleNamespace, external_ids: list[str]) -> set[str]:
    """One request per 10 records; returns the ids answered 202."""
    url = f"{launcher.url('ingest')}/api/v1/datasets/{kit.dataset}/records:bulk"
    accepted: set[str] = set()
    for start in range(0, len(external_ids), 10):
        chunk = external_ids[start:start + 10]
        items = [{"external_id": e, "fields": {"text": f"review {e}"}} for e in chunk]
        try:
            answer = httpx.post(url, json={"items": items}, headers=kit.service_headers(launcher), timeout=20)
        except httpx.HTTPError:
            continue
        if answer.status_code == 202:
            accepted.update(chunk)
        else:
            assert answer.status_code in (429, 503), f"{answer.status_code} during an outage: {answer.text[:300]}"
    return accepted


def stored_ids(launcher: ServiceLauncher, kit: SimpleNamespace) -> list[str]:
    with MongoClient(launcher.stack.ports.mongo_url, serverSelectionTimeoutMS=3000) as client:
        query = {"workspace": kit.workspace, "dataset": kit.dataset}
        return [str(d["external_id"]) for d in client["claystream"]["records"].find(query, {"external_id": 1})]


def restart_server(launcher: ServiceLauncher, name: str) -> None:
    {"mongo": launcher.stack.start_mongo, "redis": launcher.stack.start_redis}[name]()
    launcher.stack.wait_ready(servers=(name,), timeout_s=60)


@pytest.mark.parametrize("server", ["mongo", "redis"])
def test_services_report_not_ready_and_recover_without_losing_accepted_records(
    system: ServiceLauncher, fault_kit: SimpleNamespace, server: str
) -> None:
    kit = fault_kit
    kit.wait_until(lambda: set(readiness(system).values()) == {200}, timeout_s=READY_AGAIN_WITHIN_S, what="all ready")
    before = post_records(system, kit, [f"{server}-before-{i}" for i in range(20)])
    assert len(before) == 20

    system.stack.stop((server,))
    stopped = time.monotonic()
    try:
        first_503: dict[str, float] = {}

        def all_unready() -> bool:
            for name, code in readiness(system).items():
                if code == 503:
                    first_503.setdefault(name, round(time.monotonic() - stopped, 1))
            return set(DEPENDS_ON[server]) <= set(first_503)

        kit.wait_until(all_unready, timeout_s=NOT_READY_WITHIN_S,
                       what=f"every /readyz of {DEPENDS_ON[server]} to say 503 with {server} down")
        assert set(first_503) == set(DEPENDS_ON[server]), f"only these depend on {server}: {first_503}"
        print(f"{server} down: seconds to the first 503 per service: {first_503}")
        during_ids = [f"{server}-during-{i}" for i in range(30)]
        during = post_records(system, kit, during_ids)
    finally:
        restart_server(system, server)
    restarted = time.monotonic()
    kit.wait_until(lambda: set(readiness(system).values()) == {200}, timeout_s=READY_AGAIN_WITHIN_S,
                   what=f"every service ready again after {server} restarted (last: {readiness(system)})")
    print(f"{server} back: every service ready after {time.monotonic() - restarted:.1f}s; "
          f"{len(during)}/{len(during_ids)} records accepted during the outage")

    resent = post_records(system, kit, [e for e in during_ids if e not in during])  # same external ids
    after = post_records(system, kit, [f"{server}-after-{i}" for i in range(20)])
    assert len(after) == 20 and len(resent) == len(during_ids) - len(during)
    expected = before | during | resent | after

    def mine() -> list[str]:
        return [e for e in stored_ids(system, kit) if e.startswith(f"{server}-")]

    kit.wait_until(lambda: expected <= set(mine()), timeout_s=60,
                   what=f"annotate to store every accepted record (missing {len(expected - set(mine()))})")
    stored = mine()
    assert len(stored) == len(set(stored)) == len(expected), "a record was stored twice or an unsent one appeared"
