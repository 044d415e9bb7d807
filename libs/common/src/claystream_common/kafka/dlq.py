"""Dead-letter queue helpers: the cause headers and the forwarding of a failed message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from claystream_common.topics import dlq_name

if TYPE_CHECKING:
    from claystream_common.kafka.producer import EventProducer

DLQ_HEADER_PREFIX = "x-"


def dlq_headers(
    message: Any,
    *,
    error: BaseException | str,
    attempts: int,
    group: str,
) -> list[tuple[str, bytes]]:
    """Original headers (minus earlier DLQ headers) plus the cause and where it came from."""
    cause = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    error_class = "EventDecodeError" if isinstance(error, str) else type(error).__name__
    kept = [(k, v) for k, v in (message.headers or ()) if not k.startswith(DLQ_HEADER_PREFIX)]
    return kept + [
        ("x-error", cause[:2000].encode()),
        ("x-error-class", error_class.encode()),
        ("x-original-topic", message.topic.encode()),
        ("x-original-partition", str(message.partition).encode()),
        ("x-original-offset", str(message.offset).encode()),
        ("x-attempts", str(attempts).encode()),
        ("x-consumer-group", group.encode()),
        ("x-failed-at", datetime.now(UTC).isoformat().encode()),
    ]


def dlq_topic_for(topic: str) -> str:
    return dlq_name(topic)


async def forward_to_dlq(producer: EventProducer, message: Any, error: BaseException | str, *, attempts: int, group: str) -> None:
    """The failed message, bytes unchanged, to ``<topic>.dlq`` with the cause headers."""
    headers = dlq_headers(message, error=error, attempts=attempts, group=group)
    await producer.send_raw(dlq_topic_for(message.topic), message.value, key=message.key, headers=headers)


def header_map(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers or ():
        out[key] = value.decode(errors="replace") if isinstance(value, bytes | bytearray) else str(value)
    return out
