"""claystream-dlq against the real embedded stack: reject → DLQ → list with cause → fix → replay → processed;
a second replay is refused; a forced one is absorbed by the idempotency fence."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from claystream_common.dlq_cli import run
from claystream_common.dlq_tool import REPLAY_HEADER, read_topic
from claystream_common.errors import PermanentError
from claystream_common.events import Envelope, RecordIngested, new_event
from claystream_common.idempotency import MongoFence
from claystream_common.kafka.admin import ensure_topics
from claystream_common.kafka.consumer import ConsumerRunner, Subscription
from claystream_common.kafka.producer import EventProducer
from claystream_common.topics import Topic, TopicSpec

pytestmark = pytest.mark.slow


async def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = await run(list(argv), out=out)
    return status, out.getvalue()


async def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit the group's offsets at the topic's current end, so the runner sees only this test's messages."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: ends[tp] for tp in tps})
    finally:
        await consumer.stop()


def _record(dataset: str, n: int) -> Envelope[Any]:
    return new_event(
        "record.ingested",
        RecordIngested(record_id=f"{dataset}-{n}", fields={"text": f"record {n}"}),
        dataset=dataset,
        workspace="dlq-test",
    )


async def test_rejected_event_is_listed_replayed_once_and_processed(embedded_stack, unique_name) -> None:
    bootstrap = embedded_stack.ports.kafka_bootstrap
    mongo_url = embedded_stack.ports.mongo_url
    group = f"dlq-tool-{unique_name}"
    await _start_group_at_end(bootstrap, group, Topic.RECORDS.value)

    good, bad, after = (_record(unique_name, n) for n in range(3))
    processed: list[str] = []
    fixed = False

    async def handle(event: Envelope[Any]) -> None:
        if event.dataset != unique_name:
            return  # another test's record
        if event.event_id == bad.event_id and not fixed:
            raise PermanentError(f"unknown dataset {unique_name!r}")
        processed.append(str(event.event_id))

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    producer = EventProducer(bootstrap, service="dlq-test")
    await producer.start()
    runner = ConsumerRunner(
        service="dlq-test",
        bootstrap_servers=bootstrap,
        group_id=group,
        subscriptions=[Subscription("record.ingested", handler=handle)],
        producer=producer,
        fence=MongoFence(mongo[unique_name]["processed_events"], group),
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
        rebalance_timeout_ms=6000,
    )
    await runner.start()
    try:
        for event in (good, bad, after):
            await producer.publish(event, key=event.data.record_id)
        await _wait_for(lambda: len(processed) == 2 and runner.stats.dead_lettered == 1,
                        "the good events and one DLQ entry")
        assert sorted(processed) == sorted([str(good.event_id), str(after.event_id)])  # two partitions: no order between them

        # list: the rejected event is there with its cause
        status, output = await _cli("list", "--topic", "records", "--json", "--bootstrap", bootstrap)
        assert status == 0
        mine = [e for e in json.loads(output) if e["event_id"] == str(bad.event_id)]
        assert len(mine) == 1, output
        entry = mine[0]
        assert entry["dlq_topic"] == "records.dlq"
        assert entry["error"] == f"PermanentError: unknown dataset {unique_name!r}"
        assert entry["original_topic"] == "records" and entry["original_offset"] is not None
        assert entry["attempts"] == 1 and entry["consumer_group"] == group
        assert entry["event_type"] == "record.ingested" and entry["decodable"] is True
        assert entry["key"] == bad.data.record_id
        offset = str(entry["offset"])
        status, table = await _cli("list", "--topic", "records", "--bootstrap", bootstrap)
        assert status == 0 and f"unknown dataset {unique_name!r}" in table

        # a dry run publishes nothing and records nothing
        replay = ("replay", "--topic", "records", "--offset", offset, "--bootstrap", bootstrap,
                  "--mongo-url", mongo_url, "--mongo-db", unique_name)
        status, output = await _cli(*replay, "--dry-run")
        assert status == 0 and "would-replay" in output
        await asyncio.sleep(0.5)
        assert str(bad.event_id) not in processed

        # fix the handler, replay: processed exactly once
        fixed = True
        status, output = await _cli(*replay)
        assert status == 0, output
        assert "replayed" in output
        await _wait_for(lambda: str(bad.event_id) in processed, "the replayed event to be processed")
        ledger = await mongo[unique_name]["dlq_replays"].find_one({"event_id": str(bad.event_id)})
        assert ledger is not None and ledger["replay_count"] == 1 and ledger["original_topic"] == "records"

        # a second replay is refused and publishes nothing
        status, output = await _cli(*replay)
        assert status == 3, output
        assert "refused" in output and "already replayed" in output

        # forced: published again, and the consumer's fence absorbs the duplicate
        duplicates_before = runner.stats.duplicates
        status, output = await _cli(*replay, "--force")
        assert status == 0, output
        await _wait_for(lambda: runner.stats.duplicates > duplicates_before, "the forced duplicate to be absorbed")
        assert processed.count(str(bad.event_id)) == 1
        assert runner.stats.dead_lettered == 1

        # what went back to `records`: the original key and envelope, the DLQ headers replaced by the marker
        replays = [m for m in await read_topic(bootstrap, "records")
                   if m.value and str(bad.event_id).encode() in m.value and REPLAY_HEADER in m.meta]
        assert len(replays) == 2  # the replay and the forced one, nothing from the refused attempt
        for message in replays:
            assert message.key == bad.data.record_id.encode()
            assert message.meta[REPLAY_HEADER] == offset
            assert message.meta["event-id"] == str(bad.event_id)
            assert not [k for k in message.meta if k.startswith("x-") and k != REPLAY_HEADER]
    finally:
        await runner.stop()
        await producer.stop()
        await mongo.drop_database(unique_name)
        await mongo.close()


async def test_console_script_lists_poison_and_state_file_refuses_second_replay(
    embedded_stack, unique_name, tmp_path: Path
) -> None:
    """The installed console script lists undecodable bytes parked in a DLQ (no event type); the JSON-file
    ledger refuses a second replay; unknown offsets exit 1, unknown topics 2."""
    bootstrap = embedded_stack.ports.kafka_bootstrap
    topic = f"{unique_name}-feedback"  # a topic of its own: no service consumer replays our poison
    await ensure_topics(bootstrap, [TopicSpec(topic, 1), TopicSpec(f"{topic}.dlq", 1)])
    poison = f"not json {unique_name}".encode()
    producer = EventProducer(bootstrap, service="dlq-test")
    await producer.start()
    try:
        await producer.send_raw(
            f"{topic}.dlq",
            poison,
            key=unique_name.encode(),
            headers=[("x-error", b"undecodable payload: Expecting value"), ("x-original-topic", topic.encode()),
                     ("x-original-partition", b"0"), ("x-original-offset", b"7"), ("x-attempts", b"1"),
                     ("x-consumer-group", b"claystream-monitor")],
        )
    finally:
        await producer.stop()

    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "claystream-dlq"), "list", "--topic", topic, "--json",
        env={"CLAYSTREAM_DLQ_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()
    mine = [e for e in json.loads(stdout) if e["key"] == unique_name]
    assert len(mine) == 1
    assert mine[0]["decodable"] is False and mine[0]["event_type"] is None
    assert mine[0]["error"].startswith("undecodable payload")
    offset = str(mine[0]["offset"])

    state = tmp_path / "replays.json"
    replay = ("replay", "--topic", topic, "--offset", offset, "--bootstrap", bootstrap, "--state-file", str(state))
    assert (await _cli(*replay))[0] == 0
    recorded = json.loads(state.read_text())
    assert [r["dlq_offset"] for r in recorded.values()] == [int(offset)]
    status, output = await _cli(*replay)
    assert status == 3 and "already replayed" in output
    status, output = await _cli("replay", "--topic", topic, "--offset", "999999", "--bootstrap", bootstrap,
                                "--state-file", str(state))
    assert status == 1 and "no such DLQ entry" in output
    status, _ = await _cli("list", "--topic", f"nope-{unique_name}", "--bootstrap", bootstrap)
    assert status == 2

    back = [m for m in await read_topic(bootstrap, topic) if m.value == poison]
    assert len(back) == 1 and back[0].meta[REPLAY_HEADER] == offset and back[0].key == unique_name.encode()
