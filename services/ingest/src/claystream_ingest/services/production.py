"""Use cases: production predictions and feedback → ``prediction.logged`` / ``feedback.logged``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from claystream_common.topics import Topic, model_partition_key

from claystream_ingest.services.auth import Principal
from claystream_ingest.services.encoding import encode_events
from claystream_ingest.services.errors import NotFound
from claystream_ingest.services.ports import DatasetCatalog, EncodedEvent, EncodedPublisher
from claystream_ingest.services.production_validation import validate_feedback, validate_predictions
from claystream_ingest.services.publishing import publish_or_unavailable, refuse_oversize, reject_unless_partial
from claystream_ingest.services.records import Accepted


@dataclass(frozen=True)
class TrafficKind:
    """One kind of production traffic: how it is validated and where it goes."""

    event_type: str
    topic: str
    noun: str
    validate: Callable[..., tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]]


PREDICTIONS = TrafficKind("prediction.logged", Topic.PREDICTIONS.value, "predictions", validate_predictions)
FEEDBACK = TrafficKind("feedback.logged", Topic.FEEDBACK.value, "feedback items", validate_feedback)


async def log_traffic(
    kind: TrafficKind,
    items: list[Any],
    *,
    principal: Principal,
    partial: bool,
    publisher: EncodedPublisher,
    publish_timeout_s: float,
    catalog: DatasetCatalog,
    traceparent: str | None = None,
    max_event_bytes: int = 1_000_000,
) -> Accepted:
    """Validate (all-or-nothing unless ``partial``), check named datasets, publish, 202 only after the acks.
    An item too large for one event is refused like an invalid one (422 naming it), never a retryable 503."""
    now = datetime.now(UTC).isoformat()
    good, errors = kind.validate(items, now=now)
    reject_unless_partial(errors, len(items), partial=partial, noun=kind.noun)
    good, errors = await require_datasets(good, errors, principal=principal, catalog=catalog, partial=partial)
    events = _encode(kind.event_type, [item for _, item in good], principal, now, traceparent)
    kept, errors = refuse_oversize(events, [index for index, _ in good], [item["request_id"] for _, item in good], errors,
                                   total=len(items), partial=partial, max_bytes=max_event_bytes, noun=kind.noun)
    events = [events[k] for k in kept]
    await publish_or_unavailable(publisher, kind.topic, events, timeout_s=publish_timeout_s)
    return Accepted(accepted=len(events), ids=[e.event_id for e in events], rejected=errors)


async def log_predictions(items: list[Any], **options: Any) -> Accepted:
    return await log_traffic(PREDICTIONS, items, **options)


async def log_feedback(items: list[Any], **options: Any) -> Accepted:
    return await log_traffic(FEEDBACK, items, **options)


async def require_datasets(
    good: list[tuple[int, dict[str, Any]]], errors: list[dict[str, Any]], *, principal: Principal, catalog: DatasetCatalog,
    partial: bool,
) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """A dataset named by production traffic must exist in the caller's workspace: else 404 and nothing published,
    or, with ``partial``, the items naming it are rejected (index, ``dataset``, reason) and the others go on."""
    missing: set[str] = set()
    for dataset in sorted({item["dataset"] for _, item in good if item.get("dataset")}):
        if await catalog.get(principal.workspace, dataset) is None:
            if not partial:
                raise NotFound(f"dataset '{dataset}' not found in workspace '{principal.workspace}'")
            missing.add(dataset)
    if not missing:
        return good, errors
    refused = [{"index": index, "field": "dataset", "reason": f"dataset '{item['dataset']}' not found in workspace "
                f"'{principal.workspace}'"} for index, item in good if item.get("dataset") in missing]
    kept = [(index, item) for index, item in good if item.get("dataset") not in missing]
    return kept, sorted(errors + refused, key=lambda error: error["index"])


def _encode(
    event_type: str, items: list[dict[str, Any]], principal: Principal, now: str, traceparent: str | None
) -> list[EncodedEvent]:
    """Events in item order; encoded per envelope dataset (most requests name one or none)."""
    by_dataset: dict[str | None, list[int]] = {}
    for position, item in enumerate(items):
        by_dataset.setdefault(item.pop("dataset"), []).append(position)
    events: list[EncodedEvent | None] = [None] * len(items)
    for dataset, positions in by_dataset.items():
        group = [items[p] for p in positions]
        encoded = encode_events(
            event_type, group,
            [model_partition_key(principal.workspace, item.get("model"), item["request_id"]) for item in group],
            workspace=principal.workspace,
            dataset=dataset, occurred_at=now, traceparent=traceparent,
        )
        for position, event in zip(positions, encoded, strict=True):
            events[position] = event
    return [event for event in events if event is not None]
