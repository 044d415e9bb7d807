from __future__ import annotations

from typing import Any

from claystream_common.datasets import DatasetSpec
from fastapi import APIRouter, Request, Response

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep, SpecDep
from claystream_annotate.api.schemas import QueueAnswerIn, ResponseOut
from claystream_annotate.bootstrap import Deps
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.principals import Principal
from claystream_annotate.services.queue import next_record, release_lease
from claystream_annotate.services.records import (
    RecordQuery,
    attach_responses,
    get_record,
    public_record,
    search_records,
)
from claystream_annotate.services.responses import answer_and_next, public_response

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/datasets/{dataset}", tags=["records"])


def _float(name: str, value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise Invalid(name, "must be a number") from None


def record_query(request: Request, page_max: int) -> RecordQuery:
    """Query parameters → RecordQuery.  Metadata: ``metadata.<name>=v`` (repeatable),
    ``metadata.<name>.min`` / ``.max`` for numbers."""
    params = request.query_params
    metadata: dict[str, list[str]] = {}
    ranges: dict[str, tuple[float | None, float | None]] = {}
    for key in params:
        if not key.startswith("metadata."):
            continue
        name = key.removeprefix("metadata.")
        if name.endswith((".min", ".max")):
            base, bound = name.rsplit(".", 1)
            low, high = ranges.get(base, (None, None))
            value = _float(key, params.get(key))
            ranges[base] = (value, high) if bound == "min" else (low, value)
        else:
            metadata[name] = params.getlist(key)
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        raise Invalid("limit", "must be an integer") from None
    return RecordQuery(
        q=params.get("q") or None,
        response_status=params.get("response_status") or None,
        response_scope=params.get("response_scope") or None,
        status=params.get("status") or None,
        metadata=metadata,
        metadata_ranges=ranges,
        suggested=params.get("suggested") or None,
        question=params.get("question") or None,
        score_min=_float("score_min", params.get("score_min")),
        score_max=_float("score_max", params.get("score_max")),
        sort=params.get("sort", "arrival"),
        limit=limit,
        after=params.get("after") or None,
        count=params.get("count") in ("1", "true"),
        include_vectors=params.get("include_vectors") in ("1", "true"),
    )


@router.get("/records")
async def search_route(request: Request, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    """Search / filter / sort with cursor pagination (``after`` = the previous page's ``next_after``).

    Parameters: q, response_status (pending|submitted|draft|discarded), response_scope (mine: the
    caller's answers, the default for users; any: anyone's, the default for admin API keys), status
    (pending|completed), metadata.<name>=v, metadata.<name>.min/.max, suggested, question,
    score_min, score_max, sort (arrival|-arrival|score|-score), limit (≤ page cap), after, count,
    include_vectors (the records' vectors too)."""
    page = await search_records(
        record_query(request, deps.settings.page_max), actor=principal, spec=spec, records=deps.records,
        responses=deps.responses, counters=deps.counters, page_max=deps.settings.page_max,
    )
    return {"items": page.items, "next_after": page.next_after, "total": page.total}


@router.get("/records/{record_id}")
async def get_route(record_id: str, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    return await get_record(record_id, actor=principal, spec=spec, records=deps.records, responses=deps.responses)


async def _served(document: dict[str, Any], principal: Principal, spec: DatasetSpec, deps: Deps) -> dict[str, Any]:
    """A record handed out by the queue: annotators see no responses (it never hands out one they answered)."""
    if not principal.is_admin_of(spec.workspace):
        return public_record(document, [])
    return (await attach_responses([document], actor=principal, spec=spec, responses=deps.responses))[0]


@router.get("/queue/next", responses={204: {"description": "nothing left to label"}}, response_model=None)
async def next_route(spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any] | Response:
    """The caller's next record (leased to them), or 204 when nothing is left."""
    document = await next_record(
        actor=principal, spec=spec, records=deps.records, responses=deps.responses, queue=deps.queue,
        lease_ttl_s=deps.settings.lease_ttl_s, scan=deps.settings.queue_scan,
    )
    if document is None:
        return Response(status_code=204)
    return await _served(document, principal, spec, deps)


@router.post("/queue/answer")
async def answer_route(body: QueueAnswerIn, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    """Answer a record and get the next one in one request, as the web UI's submit does:
    ``{"response": <the saved response>, "next": <the next record, leased> | null}``."""
    doc, following = await answer_and_next(
        actor=principal, spec=spec, record_id=body.record_id, status=body.status, values=body.values,
        records=deps.records, responses=deps.responses, queue=deps.queue, relay=deps.relay,
        lease_ttl_s=deps.settings.lease_ttl_s, scan=deps.settings.queue_scan,
    )
    return {
        "response": ResponseOut(record_id=doc.record_id, **public_response(doc)),
        "next": None if following is None else await _served(following, principal, spec, deps),
    }


@router.post("/queue/release/{record_id}", status_code=204)
async def release_route(record_id: str, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> Response:
    await release_lease(actor=principal, spec=spec, record_id=record_id, queue=deps.queue)
    return Response(status_code=204)
