"""Bulk labelling: one answer applied to selected records or to every record matching a filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from claystream_common.datasets import DatasetSpec

from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.ports import RecordStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.records import RecordQuery, build_query
from claystream_annotate.services.responses import BULK_MAX, ResponseStores, bulk_respond
from claystream_annotate.services.validation import validate_values

CHUNK = 1000


async def matching_ids(query: RecordQuery, *, spec: DatasetSpec, user_id: str, records: RecordStore, cap: int = BULK_MAX) -> list[str]:
    """Ids of the records matching the filter (at most ``cap``; more is refused)."""
    built = build_query(spec, query, user_id)
    projection = None if built.in_python else {"_id": 1, "seq": 1}
    ids: list[str] = []
    async for page in records.scan(built.mongo, batch_size=5000, projection=projection):
        ids.extend(d["_id"] for d in page if built.accepts(spec, d))
        if len(ids) > cap:
            raise Invalid("filter", f"matches more than {cap} records; narrow it down")
    return ids


async def bulk_apply(
    *,
    actor: Principal,
    spec: DatasetSpec,
    record_ids: Sequence[str] | None,
    query: RecordQuery | None,
    status: str,
    values: dict[str, Any] | None,
    dry_run: bool,
    **stores: Unpack[ResponseStores],
) -> tuple[int, int]:
    """(matched, changed).  ``dry_run`` only counts (for the confirmation dialog)."""
    actor.require(spec.workspace, Role.ANNOTATOR)
    validate_values(spec, values, status)
    if record_ids is not None:
        if len(record_ids) > BULK_MAX:
            raise Invalid("record_ids", f"at most {BULK_MAX} records per bulk request")
        unique = list(dict.fromkeys(record_ids))
        in_dataset = {d["_id"] for d in await stores["records"].get_many(unique) if d.get("dataset_id") == spec.id}
        ids = [record_id for record_id in unique if record_id in in_dataset]  # matched: records of this dataset only
    elif query is not None:
        ids = await matching_ids(query, spec=spec, user_id=actor.user_id, records=stores["records"])
    else:
        raise Invalid("record_ids", "give record_ids or a filter")
    if dry_run:
        return len(ids), 0
    changed = 0
    for start in range(0, len(ids), CHUNK):
        changed += await bulk_respond(
            actor=actor, spec=spec, record_ids=ids[start:start + CHUNK], status=status, values=values, **stores,
        )
    return len(ids), changed
