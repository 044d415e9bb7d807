"""Poison messages on every consumed topic: each lands in ``<topic>.dlq`` with its cause, and the next good
message is still processed.

For each topic a service consumes (records, responses, suggestions, models, predictions, feedback) this
publishes, in order on one partition (same key): undecodable bytes, a valid event with schema_version
"9.0", the same event type for a dataset that does not exist, then a good event.  With annotate, trainer
and monitor running as subprocesses, every consumer group of the topic must

* commit past the good event (the runner commits only after the handler's side effects: it kept going);
* have parked the undecodable and the wrong-version messages in ``<topic>.dlq`` with ``x-error`` and the
  ``x-original-topic/partition/offset`` headers of the poison message and ``x-consumer-group`` = its group;
* have parked the unknown-dataset event too - where a service accepts it instead, the case is a strict
  xfail naming the handler (the lead decides: dead-letter it, or document why it is accepted).
"""

from __future__ import annotations

import asyncio
import time
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from claystream_common.dlq_tool import DlqEntry, read_topic
from claystream_common.events import (
    DatasetDeleted,
    FeedbackLogged,
    ModelTrained,
    PredictionLogged,
    RecordIngested,
    ResponseChanged,
    SuggestionCreated,
    encode_event,
    new_event,
)
from claystream_devstack.services import ServiceLauncher

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# topic → the consumer groups reading it (settings.consumer_group; the monitor's predictions runner has its own)
CONSUMERS: dict[str, tuple[str, ...]] = {
    "records": ("claystream-annotate", "claystream-trainer"),
    "responses": ("claystream-trainer",),
    "suggestions": ("claystream-annotate",),
    "models": ("claystream-annotate", "claystream-monitor"),
    "predictions": ("claystream-monitor-predictions",),
    "feedback": ("claystream-monitor",),
    "datasets": ("claystream-trainer", "claystream-monitor"),
}
CASES = [(topic, group) for topic, groups in CONSUMERS.items() for group in groups]

# Where the unknown-dataset event is accepted instead of dead-lettered (found by this test; see the reasons).
DELETED_IS_GONE = "dataset.deleted names a dataset that no longer exists, by definition: dropping nothing is right"
ACCEPTS_UNKNOWN_DATASET: dict[tuple[str, str], str] = {("datasets", group): DELETED_IS_GONE for group in CONSUMERS["datasets"]}


def good_and_unknown(topic: str, workspace: str, dataset: str) -> tuple[bytes, bytes, bytes]:
    """(good event, same event with schema_version 9.0, same type for an unknown dataset) for ``topic``."""
    record_id = str(uuid.uuid4())
    payloads: dict[str, tuple[str, Any]] = {
        "records": ("record.ingested", RecordIngested(record_id=record_id, external_id=record_id, fields={"text": "fine film"})),
        "responses": ("response.submitted", ResponseChanged(response_id=f"{record_id}:u1", record_id=record_id, user_id="u1",
                                                            status="submitted", values={"sentiment": "positive"})),
        "suggestions": ("suggestion.created", SuggestionCreated(record_id=record_id, question="sentiment", label="positive",
                                                                score=0.9, model_version="v1")),
        "models": ("model.trained", ModelTrained(run_id=record_id, model_version="v1", kind="refresh", label_count=8)),
        "predictions": ("prediction.logged", PredictionLogged(request_id=record_id, model=dataset, text="fine film",
                                                              predicted_label="positive")),
        "feedback": ("feedback.logged", FeedbackLogged(request_id=record_id, model=dataset, true_label="positive")),
        "datasets": ("dataset.deleted", DatasetDeleted(dataset_id=record_id)),
    }
    event_type, data = payloads[topic]
    if topic == "datasets":  # a good deletion, of another dataset than the one the other topics' events use
        dataset = f"{dataset}-deleted"
    good = encode_event(new_event(event_type, data, workspace=workspace, dataset=dataset))
    wrong_version = json.loads(good)
    wrong_version.update(schema_version="9.0", event_id=str(uuid.uuid4()))
    unknown = encode_event(new_event(event_type, data, workspace=workspace, dataset="no-such-dataset"))
    return good, json.dumps(wrong_version).encode(), unknown


@dataclass
class Sent:
    partition: int
    offsets: dict[str, int] = field(default_factory=dict)  # kind → offset
    dlq: list[DlqEntry] = field(default_factory=list)


async def publish(bootstrap: str, workspace: str, dataset: str) -> dict[str, Sent]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent: dict[str, Sent] = {}
    try:
        for topic in CONSUMERS:
            good, wrong_version, unknown = good_and_unknown(topic, workspace, dataset)
            key = f"poison-{topic}".encode()
            messages = {"undecodable": b"\xff\xfe not json \x00", "wrong_version": wrong_version,
                        "unknown_dataset": unknown, "good": good}
            for kind, value in messages.items():
                meta = await producer.send_and_wait(topic, value, key=key)
                sent.setdefault(topic, Sent(meta.partition)).offsets[kind] = meta.offset
    finally:
        await producer.stop()
    return sent


async def committed(bootstrap: str, group: str, tp: TopicPartition) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[tp])
    finally:
        await admin.close()
    found = offsets.get(tp)
    return found.offset if found is not None else -1


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory, fault_kit: SimpleNamespace) -> Iterator[tuple[ServiceLauncher, dict[str, Sent]]]:
    with fault_kit.private_system(tmp_path_factory.mktemp("poison"), ("annotate", "trainer", "monitor")) as launcher:
        fault_kit.create_dataset(launcher)
        bootstrap = launcher.stack.ports.kafka_bootstrap
        sent = asyncio.run(publish(bootstrap, fault_kit.workspace, fault_kit.dataset))
        for topic, group in CASES:  # every group commits past the good message: it kept processing
            tp = TopicPartition(topic, sent[topic].partition)
            target = sent[topic].offsets["good"] + 1
            fault_kit.wait_until(lambda g=group, t=tp, n=target: asyncio.run(committed(bootstrap, g, t)) >= n, timeout_s=90,
                                 what=f"{group} to commit {topic}[{tp.partition}] past offset {target - 1}", interval_s=0.5)
        asyncio.run(write_past_every_dlq(bootstrap))
        for topic in CONSUMERS:  # read again until every entry expected of it is there (or 20 s): a missing one fails its test
            deadline = time.monotonic() + 20
            while True:
                sent[topic].dlq = asyncio.run(read_topic(bootstrap, f"{topic}.dlq"))
                if all(dlq_entry(sent[topic], topic, group, kind) is not None for group, kind in expected_entries(topic)):
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        yield launcher, sent


async def write_past_every_dlq(bootstrap: str) -> None:
    """One message past the end of every DLQ topic, outside every expectation (no DLQ headers).

    The embedded broker (Tansu) sometimes leaves its reported end offset one write short when two
    clients write the same partition at the same moment: annotate's and the trainer's DLQ writes here.
    The acknowledged entry is stored but invisible to readers until the next write to that partition
    (seen: 7 entries readable, 9 after one more write).  Real Kafka has no such gap; this makes the
    test read what the services wrote rather than what the broker reports."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic in CONSUMERS:
            await producer.send_and_wait(f"{topic}.dlq", b"end-of-test-writes", partition=0)
    finally:
        await producer.stop()


def expected_entries(topic: str) -> list[tuple[str, str]]:
    """(group, kind) of every DLQ entry the tests below expect for ``topic``."""
    kinds = ("undecodable", "wrong_version", "unknown_dataset")
    return [(group, kind) for group in CONSUMERS[topic] for kind in kinds
            if kind != "unknown_dataset" or (topic, group) not in ACCEPTS_UNKNOWN_DATASET]


def dlq_entry(sent: Sent, topic: str, group: str, kind: str) -> DlqEntry | None:
    offset = str(sent.offsets[kind])
    return next((e for e in sent.dlq if e.meta.get("x-consumer-group") == group and e.meta.get("x-original-topic") == topic
                 and e.meta.get("x-original-partition") == str(sent.partition) and e.meta.get("x-original-offset") == offset),
                None)


@pytest.mark.parametrize(("topic", "group"), CASES, ids=[f"{t}-{g.removeprefix('claystream-')}" for t, g in CASES])
def test_undecodable_and_wrong_version_land_in_the_dlq_with_their_cause(
    poisoned: tuple[ServiceLauncher, dict[str, Sent]], topic: str, group: str
) -> None:
    sent = poisoned[1][topic]
    undecodable = dlq_entry(sent, topic, group, "undecodable")
    assert undecodable is not None, f"{group}: undecodable bytes on {topic} not in {topic}.dlq: {[e.meta for e in sent.dlq]}"
    assert undecodable.value == b"\xff\xfe not json \x00"
    assert "undecodable" in undecodable.meta["x-error"]
    wrong = dlq_entry(sent, topic, group, "wrong_version")
    assert wrong is not None, f"{group}: schema_version 9.0 on {topic} not in {topic}.dlq"
    assert "schema_version" in wrong.meta["x-error"] and "9.0" in wrong.meta["x-error"]
    for entry in (undecodable, wrong):
        assert entry.meta["x-error-class"] and entry.meta["x-attempts"] == "1" and entry.meta["x-failed-at"]
    good = dlq_entry(sent, topic, group, "good")
    assert good is None, f"{group}: the good event after the poison was dead-lettered: {good.meta if good else ''}"


def _unknown_dataset_case(topic: str, group: str) -> Any:
    reason = ACCEPTS_UNKNOWN_DATASET.get((topic, group))
    case_id = f"{topic}-{group.removeprefix('claystream-')}"
    if reason is None:
        return pytest.param(topic, group, id=case_id)
    return pytest.param(topic, group, id=case_id, marks=pytest.mark.xfail(strict=True, reason=reason))


@pytest.mark.parametrize(("topic", "group"), [_unknown_dataset_case(t, g) for t, g in CASES])
def test_unknown_dataset_event_lands_in_the_dlq(poisoned: tuple[ServiceLauncher, dict[str, Sent]], topic: str, group: str) -> None:
    sent = poisoned[1][topic]
    entry = dlq_entry(sent, topic, group, "unknown_dataset")
    assert entry is not None, (f"{group} accepted a {topic} event for an unknown dataset instead of dead-lettering it; "
                               f"{topic}.dlq: {[(e.meta.get('x-consumer-group'), e.meta.get('x-original-offset'), e.meta.get('x-error')) for e in sent.dlq]}, sent at {sent.offsets}")
    assert "no-such-dataset" in entry.meta["x-error"] and entry.meta["x-error-class"] == "PermanentError"
