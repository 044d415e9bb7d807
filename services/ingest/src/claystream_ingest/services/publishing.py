"""Publish-or-503: a request is acknowledged only after Kafka acknowledged all of it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from claystream_common.kafka.producer import PublishError

from claystream_ingest.services.errors import InvalidItems, KafkaUnavailable, PayloadTooLarge
from claystream_ingest.services.ports import EncodedEvent, EncodedPublisher
from claystream_ingest.services.validation import item_error


# what the broker says when a message can never be stored, whatever the retries
PERMANENT_REFUSALS = ("MessageSizeTooLargeError", "RecordTooLargeError", "RecordListTooLargeError")


def _refused_for_good(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if type(cause).__name__ in PERMANENT_REFUSALS or "larger than the producer's batch size" in str(cause):
            return True
        cause = cause.__cause__
    return False


def oversize_errors(
    events: Sequence[EncodedEvent], indexes: Sequence[int], names: Sequence[str | None], *, max_bytes: int, noun: str
) -> list[dict[str, Any]]:
    """One error per event over ``max_bytes`` encoded, naming the item (index and id) and the limit:
    a permanent refusal (422), never a retryable 503 (a retry could only fail the same way)."""
    return [
        item_error(index, "", f"{noun} {name or f'at index {index}'} is {len(event.value)} bytes encoded; "
                              f"at most {max_bytes} bytes per {noun} (shorten its fields; retrying will not help)")
        for event, index, name in zip(events, indexes, names, strict=True)
        if len(event.value) > max_bytes
    ]


def refuse_oversize(
    events: Sequence[EncodedEvent], indexes: Sequence[int], names: Sequence[str | None], errors: list[dict[str, Any]],
    *, total: int, partial: bool, max_bytes: int, noun: str,
) -> tuple[list[int], list[dict[str, Any]]]:
    """Positions of the events to publish and all errors: 422 for the whole request when one is too
    large (unless ``partial``: then it joins the rejected ones)."""
    too_large = oversize_errors(events, indexes, names, max_bytes=max_bytes, noun=noun.rstrip("s").removesuffix(" item"))
    if not too_large:
        return list(range(len(events))), errors
    errors = sorted(errors + too_large, key=lambda e: (e["index"] is None, e["index"] or 0))
    reject_unless_partial(errors, total, partial=partial, noun=noun)
    refused = {e["index"] for e in too_large}
    return [k for k, index in enumerate(indexes) if index not in refused], errors


async def publish_or_unavailable(
    publisher: EncodedPublisher, topic: str, events: Sequence[EncodedEvent], *, timeout_s: float
) -> None:
    if not events:
        return
    try:
        await asyncio.wait_for(publisher.publish_encoded(topic, events), timeout=timeout_s)
    except PublishError as error:
        if _refused_for_good(error):
            raise PayloadTooLarge(f"Kafka refused the batch as too large; nothing was accepted (send smaller items): {error}") from error
        raise KafkaUnavailable(
            "Kafka is unavailable: the request was not accepted; retry later "
            "(re-sending is safe: record ids are deterministic from external_id)",
            reason=str(error),
        ) from error
    except TimeoutError as error:
        reason = str(error) or f"no acknowledgement within {timeout_s:g}s"
        raise KafkaUnavailable(
            "Kafka is unavailable: the request was not accepted; retry later "
            "(re-sending is safe: record ids are deterministic from external_id)",
            reason=reason,
        ) from error


def items_of(body: Any, *, max_items: int, noun: str) -> list[Any]:
    """The ``items`` list of a bulk body, or 422 naming what is wrong with it."""
    if not isinstance(body, dict):
        raise InvalidItems("the body must be a JSON object", errors=[item_error(None, "", 'expected {"items": [...]}')])
    items = body.get("items")
    problem = None
    if items is None:
        problem = "required property is missing"
    elif not isinstance(items, list):
        problem = f"must be a list of {noun}"
    elif not items:
        problem = f"must contain at least one of the {noun}"
    elif len(items) > max_items:
        problem = f"at most {max_items} {noun} per request (got {len(items)}); split the batch"
    if problem:
        raise InvalidItems(f"invalid request body: items {problem}", errors=[item_error(None, "items", problem)])
    unknown = sorted(body.keys() - {"items"})
    if unknown:
        raise InvalidItems(
            "invalid request body", errors=[item_error(None, key, "unknown property") for key in unknown]
        )
    return items


def reject_unless_partial(errors: list[dict[str, Any]], total: int, *, partial: bool, noun: str) -> None:
    if errors and not partial:
        bad = len({error["index"] for error in errors})
        raise InvalidItems(
            f"{bad} of {total} {noun} are invalid; nothing was accepted (fix them, or send ?partial=true)",
            errors=errors,
        )
