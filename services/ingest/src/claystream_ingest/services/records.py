"""Use case: validate records against their dataset and publish ``record.ingested``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from claystream_common.topics import Topic

from claystream_ingest.services.auth import Principal
from claystream_ingest.services.encoding import encode_events, record_ids
from claystream_ingest.services.errors import NotFound
from claystream_ingest.services.ports import DatasetCatalog, EncodedPublisher
from claystream_ingest.services.publishing import items_of, publish_or_unavailable, refuse_oversize, reject_unless_partial
from claystream_ingest.services.validation import ValidatorCache


@dataclass(frozen=True, slots=True)
class Accepted:
    accepted: int
    ids: list[str]
    rejected: list[dict[str, Any]] = field(default_factory=list)


async def ingest_records(
    body: Any,
    *,
    dataset: str,
    principal: Principal,
    partial: bool,
    catalog: DatasetCatalog,
    validators: ValidatorCache,
    publisher: EncodedPublisher,
    max_items: int,
    publish_timeout_s: float,
    max_record_bytes: int = 1_000_000,
    traceparent: str | None = None,
) -> Accepted:
    spec = await catalog.get(principal.workspace, dataset)
    if spec is None:
        raise NotFound(f"dataset '{dataset}' not found in workspace '{principal.workspace}'")
    items = items_of(body, max_items=max_items, noun="records")
    good, errors = validators.for_spec(spec).validate(items)
    reject_unless_partial(errors, len(items), partial=partial, noun="records")
    workspace = principal.workspace
    origin = "service" if principal.is_service else "api"
    records = [record for _, record in good]
    ids = record_ids(workspace, dataset, [record["external_id"] for record in records])
    for record, record_id in zip(records, ids, strict=True):
        record["record_id"] = record_id
        record["origin"] = record["origin"] or origin
    events = encode_events(
        "record.ingested", records, ids, workspace=workspace, dataset=dataset,
        occurred_at=datetime.now(UTC).isoformat(), traceparent=traceparent,
    )
    kept, errors = refuse_oversize(events, [index for index, _ in good], [r["external_id"] for r in records], errors,
                                   total=len(items), partial=partial, max_bytes=max_record_bytes, noun="records")
    events, ids = [events[k] for k in kept], [ids[k] for k in kept]
    await publish_or_unavailable(publisher, Topic.RECORDS.value, events, timeout_s=publish_timeout_s)
    return Accepted(accepted=len(ids), ids=ids, rejected=errors)
