"""Dead-lettered messages: read them, select them, replay them (the ``claystream-dlq`` core; its CLI is
:mod:`claystream_common.dlq_cli`).

The consumer runner parks every message it cannot process in ``<topic>.dlq`` with
cause headers (``x-error``, ``x-original-topic/partition/offset``, ``x-attempts``,
``x-consumer-group``).  After the cause is fixed, ``replay`` re-publishes the
original value, key and headers to the original topic.  Consumers are idempotent
by event id, so a replay that duplicates an event that was processed after all is
harmless; the tool still records every replay and refuses a second replay of the
same DLQ entry unless ``--force``.

Reading never joins a consumer group and never commits: partitions are assigned
explicitly and read from the beginning up to the end offsets seen at start.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic_settings import BaseSettings, SettingsConfigDict

from claystream_common.dlq_ledger import ReplayLedger
from claystream_common.events import EventDecodeError, decode_event
from claystream_common.kafka.dlq import DLQ_HEADER_PREFIX, header_map
from claystream_common.topics import dlq_name

REPLAY_HEADER = "x-replayed-from-dlq-offset"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


class ToolError(Exception):
    """A problem the operator must fix (unknown topic, Kafka unreachable...)."""


class DlqToolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_DLQ_", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongo_url: str | None = None
    mongo_db: str = "claystream"
    state_file: Path = Path(".state/dlq_replays.json")


# --------------------------------------------------------------------------- entries
@dataclass(frozen=True, slots=True)
class DlqEntry:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def meta(self) -> dict[str, str]:
        return header_map(self.headers)

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def ledger_key(self) -> str:
        """Unique per dead-lettering, even if a memory-only broker reuses offsets after a restart."""
        return f"{self.topic}/{self.partition}/{self.offset}/{self.timestamp_ms}"

    @property
    def original_topic(self) -> str | None:
        return self.meta.get("x-original-topic") or None

    def event_summary(self) -> dict[str, Any]:
        """Event type and id when the value is an envelope (best effort when it no longer validates)."""
        try:
            event = decode_event(self.value)
            return {"event_type": event.type, "event_id": str(event.event_id), "decodable": True}
        except EventDecodeError:
            pass
        try:
            document = json.loads(self.value or b"")
        except (UnicodeDecodeError, ValueError):
            document = None
        if not isinstance(document, dict):
            document = {}
        return {"event_type": _str_or_none(document.get("type")),
                "event_id": _str_or_none(document.get("event_id")), "decodable": False}

    def to_json(self) -> dict[str, Any]:
        meta = self.meta
        return {
            "dlq_topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "key": self.key.decode(errors="replace") if self.key is not None else None,
            "error": meta.get("x-error"),
            "error_class": meta.get("x-error-class"),
            "original_topic": meta.get("x-original-topic"),
            "original_partition": _int_or_none(meta.get("x-original-partition")),
            "original_offset": _int_or_none(meta.get("x-original-offset")),
            "attempts": _int_or_none(meta.get("x-attempts")),
            "consumer_group": meta.get("x-consumer-group"),
            "failed_at": meta.get("x-failed-at"),
            **self.event_summary(),
        }


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def dlq_topic_name(topic: str) -> str:
    """``records`` → ``records.dlq``; a name that already ends in ``.dlq`` is kept."""
    return topic if topic.endswith(".dlq") else dlq_name(topic)


def replay_headers(entry: DlqEntry) -> list[tuple[str, bytes]]:
    """The original headers (trace context, event id...) without DLQ headers, plus the replay marker."""
    kept = [(k, bytes(v)) for k, v in entry.headers if not k.startswith(DLQ_HEADER_PREFIX)]
    return kept + [(REPLAY_HEADER, str(entry.offset).encode())]


async def read_topic(
    bootstrap_servers: str, topic: str, *, limit: int | None = None, timeout_s: float = 20.0
) -> list[DlqEntry]:
    """Every message of ``topic`` from the beginning to the current end, without a group or commits."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        client_id="claystream-dlq",
        request_timeout_ms=10_000,
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout=timeout_s)
    except Exception as error:  # noqa: BLE001 - reported to the operator
        await consumer.stop()
        raise ToolError(f"cannot reach Kafka at {bootstrap_servers}: {error!r}") from None
    try:
        await consumer.topics()  # refresh metadata so partitions_for_topic knows the topic
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise ToolError(f"topic {topic!r} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        entries: list[DlqEntry] = []
        remaining = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while remaining and (limit is None or len(entries) < limit):
            batches = await consumer.getmany(*remaining, timeout_ms=300)
            for tp, messages in batches.items():
                entries.extend(_entry(m) for m in messages if m.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if remaining and asyncio.get_running_loop().time() > deadline:
                raise ToolError(f"timed out reading {topic} after {timeout_s:.0f}s")
        entries.sort(key=lambda e: (e.partition, e.offset))
        return entries[:limit] if limit is not None else entries
    finally:
        await consumer.stop()


def _entry(message: Any) -> DlqEntry:
    return DlqEntry(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=message.timestamp,
        key=message.key,
        value=message.value,
        headers=tuple((k, bytes(v)) for k, v in (message.headers or ())),
    )


# --------------------------------------------------------------------------- replay
class RawPublisher(Protocol):
    async def send_raw(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    entry: DlqEntry
    status: str  # replayed | would-replay | refused | skipped | failed
    reason: str = ""

    def line(self) -> str:
        target = self.entry.original_topic or "?"
        text = f"{self.status:<12} {self.entry.topic}@{self.entry.ref} -> {target}"
        return f"{text}: {self.reason}" if self.reason else text


async def replay_entries(
    entries: Iterable[DlqEntry],
    *,
    publisher: RawPublisher | None,
    ledger: ReplayLedger,
    dry_run: bool = False,
    force: bool = False,
) -> list[ReplayOutcome]:
    outcomes: list[ReplayOutcome] = []
    for entry in entries:
        target = entry.original_topic
        if target is None:
            outcomes.append(ReplayOutcome(entry, "skipped", "no x-original-topic header"))
            continue
        if dry_run:
            previous = await ledger.get(entry.ledger_key)
            if previous is not None and not force:
                outcomes.append(ReplayOutcome(entry, "refused", _already(previous)))
            else:
                outcomes.append(ReplayOutcome(entry, "would-replay"))
            continue
        assert publisher is not None, "a publisher is needed unless dry_run"
        claimed, previous = await ledger.claim(entry.ledger_key, _ledger_record(entry), force=force)
        if not claimed:
            outcomes.append(ReplayOutcome(entry, "refused", _already(previous)))
            continue
        try:
            await publisher.send_raw(target, entry.value, key=entry.key, headers=replay_headers(entry))
        except Exception as error:  # noqa: BLE001 - reported per entry, the claim is undone
            await ledger.release(entry.ledger_key, previous)
            outcomes.append(ReplayOutcome(entry, "failed", repr(error)))
            continue
        outcomes.append(ReplayOutcome(entry, "replayed", "forced" if previous is not None else ""))
    return outcomes


def _already(previous: dict[str, Any] | None) -> str:
    when = (previous or {}).get("replayed_at", "?")
    return f"already replayed at {when} (use --force to replay again)"


def _ledger_record(entry: DlqEntry) -> dict[str, Any]:
    meta = entry.meta
    return {
        "dlq_topic": entry.topic,
        "dlq_partition": entry.partition,
        "dlq_offset": entry.offset,
        "original_topic": meta.get("x-original-topic"),
        "original_partition": _int_or_none(meta.get("x-original-partition")),
        "original_offset": _int_or_none(meta.get("x-original-offset")),
        "error": meta.get("x-error"),
        "event_id": entry.event_summary()["event_id"],
        "replayed_at": datetime.now(UTC).isoformat(),
    }


def select_entries(entries: Sequence[DlqEntry], refs: Sequence[str]) -> tuple[list[DlqEntry], list[str]]:
    """Entries named by ``N`` (partition 0) or ``P:N``; also the refs that matched nothing."""
    by_ref = {e.ref: e for e in entries}
    chosen: list[DlqEntry] = []
    missing: list[str] = []
    for ref in refs:
        normal = ref if ":" in ref else f"0:{ref}"
        if normal in by_ref:
            chosen.append(by_ref[normal])
        else:
            missing.append(ref)
    return chosen, missing
