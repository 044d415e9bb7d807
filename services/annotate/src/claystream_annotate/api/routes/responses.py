from __future__ import annotations

from fastapi import APIRouter

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep, SpecDep
from claystream_annotate.api.schemas import BulkResponseIn, BulkResponseOut, ResponseIn, ResponseOut
from claystream_annotate.services.bulk import bulk_apply
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.ports import ResponseDoc
from claystream_annotate.services.principals import Role
from claystream_annotate.services.responses import get_response, public_response, save_response

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/datasets/{dataset}", tags=["responses"])


def _out(doc: ResponseDoc) -> ResponseOut:
    return ResponseOut(record_id=doc.record_id, **public_response(doc))


@router.put("/records/{record_id}/response")
async def put_response(record_id: str, body: ResponseIn, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> ResponseOut:
    """Create or change the caller's response (submitted / draft / discarded)."""
    doc = await save_response(
        actor=principal, spec=spec, record_id=record_id, status=body.status, values=body.values,
        records=deps.records, responses=deps.responses, queue=deps.queue, relay=deps.relay,
    )
    return _out(doc)


@router.get("/records/{record_id}/response")
async def get_own_response(record_id: str, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> ResponseOut:
    return _out(await get_response(actor=principal, spec=spec, record_id=record_id, user_id=None, responses=deps.responses))


@router.delete("/records/{record_id}/response")
async def discard_response(record_id: str, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> ResponseOut:
    """Discard the caller's response (kept as status ``discarded``, emitted as response.discarded)."""
    current = await get_response(actor=principal, spec=spec, record_id=record_id, user_id=None, responses=deps.responses)
    doc = await save_response(
        actor=principal, spec=spec, record_id=record_id, status="discarded", values=current.values,
        records=deps.records, responses=deps.responses, queue=deps.queue, relay=deps.relay,
    )
    return _out(doc)


@router.get("/records/{record_id}/responses")
async def list_record_responses(record_id: str, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> list[ResponseOut]:
    """Every response to the record (admins); annotators get only their own."""
    principal.require(spec.workspace, Role.ANNOTATOR)
    docs = [d for d in await deps.responses.for_records([record_id]) if d.dataset_id == spec.id]
    if not principal.is_admin_of(spec.workspace):
        docs = [d for d in docs if d.user_id == principal.user_id]
    return [_out(d) for d in docs]


@router.get("/records/{record_id}/responses/{user_id}")
async def get_user_response(record_id: str, user_id: str, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> ResponseOut:
    return _out(await get_response(actor=principal, spec=spec, record_id=record_id, user_id=user_id, responses=deps.responses))


@router.post("/responses:bulk")
async def bulk_route(body: BulkResponseIn, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> BulkResponseOut:
    """Apply one answer to the selected records, or to every record matching ``filter``
    (``dry_run`` first to show the count in a confirmation)."""
    if (body.record_ids is None) == (body.filter is None):
        raise Invalid("record_ids", "give exactly one of record_ids or filter")
    query = body.filter.query() if body.filter is not None else None
    matched, changed = await bulk_apply(
        actor=principal, spec=spec, record_ids=body.record_ids, query=query, status=body.status, values=body.values,
        dry_run=body.dry_run, records=deps.records, responses=deps.responses, queue=deps.queue, relay=deps.relay,
    )
    return BulkResponseOut(matched=matched, changed=changed, dry_run=body.dry_run)
