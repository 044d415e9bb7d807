"""Records after logging: replace metadata / suggestions, delete by id or by filter, import responses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep, SpecDep
from claystream_annotate.api.schemas import RecordFilter
from claystream_annotate.services.record_changes import delete_records, update_records
from claystream_annotate.services.responses_import import import_responses

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/datasets/{dataset}", tags=["records"])


class ItemsIn(BaseModel):
    items: list[dict[str, Any]] = Field(description="checked one by one; errors name the item index, field and reason")


class ResponsesImportIn(ItemsIn):
    dry_run: bool = Field(default=False, description="only check users and values")


class DeleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[str] | None = None
    filter: RecordFilter | None = None


@router.patch("/records")
async def update_route(body: ItemsIn, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> dict[str, int]:
    """Replace ``metadata`` and/or ``suggestions`` of records: items ``{"id", "metadata"?, "suggestions"?}``."""
    return {"updated": await update_records(body.items, actor=principal, spec=spec, records=deps.records)}


@router.post("/records:delete")
async def delete_route(body: DeleteIn, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> dict[str, int]:
    """Delete the records with these ``ids``, or every record matching ``filter``, with their responses."""
    query = body.filter.query() if body.filter is not None else None
    deleted = await delete_records(actor=principal, spec=spec, record_ids=body.ids, query=query, records=deps.records,
                                   responses=deps.responses, queue=deps.queue, counters=deps.counters,
                                   publisher=deps.publisher, vectors=deps.vectors)
    return {"deleted": deleted}


@router.delete("/records/{record_id}", status_code=204)
async def delete_one_route(record_id: str, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> Response:
    await delete_records(actor=principal, spec=spec, record_ids=[record_id], query=None, records=deps.records,
                         responses=deps.responses, queue=deps.queue, counters=deps.counters,
                         publisher=deps.publisher, vectors=deps.vectors)
    return Response(status_code=204)


@router.post("/responses:import")
async def import_route(body: ResponsesImportIn, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> dict[str, int]:
    """Existing labels: items ``{"record_id", "user", "values", "status"?, "index"?}`` saved as those users'
    responses (events go out through the outbox, as for answers given in the UI)."""
    changed = await import_responses(body.items, actor=principal, spec=spec, dry_run=body.dry_run, users=deps.users,
                                     records=deps.records, responses=deps.responses, queue=deps.queue, relay=deps.relay)
    return {"imported": changed}
