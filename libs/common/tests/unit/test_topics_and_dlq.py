"""Topic registry (every topic has a DLQ and an explicit partition count) and the DLQ cause headers."""

from __future__ import annotations

from dataclasses import dataclass, field

from claystream_common.kafka.dlq import dlq_headers, dlq_topic_for, header_map
from claystream_common.topics import DLQ_PARTITIONS, TOPIC_PARTITIONS, Topic, TopicSpec, dlq_name, topic_specs


def test_every_topic_has_a_dlq_and_a_partition_count() -> None:
    for topic in Topic:
        assert topic.dlq == f"{topic.value}.dlq" == dlq_name(topic.value) == dlq_topic_for(topic.value)
        assert TOPIC_PARTITIONS[topic] >= 1


def test_topic_specs_list_every_topic_and_its_dlq() -> None:
    specs = topic_specs()
    names = {spec.name: spec.partitions for spec in specs}
    assert len(specs) == 2 * len(Topic)
    for topic in Topic:
        assert names[topic.value] == TOPIC_PARTITIONS[topic]
        assert names[topic.dlq] == DLQ_PARTITIONS


def test_topic_specs_can_be_prefixed_for_isolated_runs() -> None:
    assert TopicSpec("t1-records", TOPIC_PARTITIONS[Topic.RECORDS]) in topic_specs("t1-")
    assert all(spec.name.startswith("t1-") for spec in topic_specs("t1-"))


@dataclass
class FakeMessage:
    topic: str = "records"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"r1"
    value: bytes | None = b"{}"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def test_dlq_headers_carry_the_cause_and_where_the_message_came_from() -> None:
    message = FakeMessage(headers=[("traceparent", b"00-abc-def-01"), ("event-type", b"record.ingested")])
    headers = header_map(dlq_headers(message, error=ValueError("bad label"), attempts=5, group="claystream-annotate"))
    assert headers["x-error"] == "ValueError: bad label"
    assert headers["x-error-class"] == "ValueError"
    assert headers["x-original-topic"] == "records"
    assert headers["x-original-partition"] == "2"
    assert headers["x-original-offset"] == "41"
    assert headers["x-attempts"] == "5"
    assert headers["x-consumer-group"] == "claystream-annotate"
    assert "x-failed-at" in headers
    assert headers["traceparent"] == "00-abc-def-01"  # the trace continues into the DLQ
    assert headers["event-type"] == "record.ingested"


def test_dlq_headers_of_a_decode_failure_and_of_a_message_dead_lettered_twice() -> None:
    replayed = FakeMessage(headers=[("x-error", b"old cause"), ("x-attempts", b"3"), ("keep", b"1")])
    raw = dlq_headers(replayed, error="undecodable payload", attempts=1, group="g")
    names = [name for name, _ in raw]
    assert names.count("x-error") == 1 and names.count("x-attempts") == 1  # earlier DLQ headers replaced
    headers = header_map(raw)
    assert headers["x-error"] == "undecodable payload"
    assert headers["x-error-class"] == "EventDecodeError"
    assert headers["x-attempts"] == "1"
    assert headers["keep"] == "1"


def test_a_long_cause_is_truncated() -> None:
    headers = header_map(dlq_headers(FakeMessage(), error="x" * 10_000, attempts=1, group="g"))
    assert len(headers["x-error"]) == 2000
