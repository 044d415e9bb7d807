"""``POST /api/v1/feedback`` and ``POST /api/v1/feedback:bulk`` (true labels, user signals)."""

from __future__ import annotations

from claystream_common.telemetry import current_traceparent
from fastapi import APIRouter, Request, Response, status

from claystream_ingest.api.body import read_json_body
from claystream_ingest.api.deps import DepsDep, PrincipalDep
from claystream_ingest.api.openapi import json_body
from claystream_ingest.api.responses import json_response
from claystream_ingest.api.routes.records import PartialQuery
from claystream_ingest.api.schemas import ERROR_RESPONSES, EventsAcceptedOut, FeedbackBulkIn, FeedbackIn
from claystream_ingest.bootstrap import Deps
from claystream_ingest.services.auth import Principal
from claystream_ingest.services.production import log_feedback
from claystream_ingest.services.publishing import items_of

router = APIRouter(prefix="/api/v1", tags=["production"])


async def _log(items: list[object], deps: Deps, principal: Principal, partial: bool) -> Response:
    result = await log_feedback(
        items, principal=principal, partial=partial, publisher=deps.publisher,
        publish_timeout_s=deps.settings.kafka_publish_timeout_s, catalog=deps.datasets, traceparent=current_traceparent(),
    )
    return json_response(
        {"accepted": result.accepted, "event_ids": result.ids, "rejected": result.rejected},
        status_code=status.HTTP_202_ACCEPTED,
    )


@router.post(
    "/feedback", status_code=status.HTTP_202_ACCEPTED, response_model=EventsAcceptedOut,
    responses=ERROR_RESPONSES, openapi_extra=json_body(FeedbackIn),
    summary="Log feedback on one prediction (true label and/or a user signal)",
)
async def create_feedback(request: Request, deps: DepsDep, principal: PrincipalDep) -> Response:
    body = await read_json_body(request, max_bytes=deps.settings.max_body_bytes)
    return await _log([body], deps, principal, partial=False)


@router.post(
    "/feedback:bulk", status_code=status.HTTP_202_ACCEPTED, response_model=EventsAcceptedOut,
    responses=ERROR_RESPONSES, openapi_extra=json_body(FeedbackBulkIn),
    summary="Log many feedback items (max_predictions_per_request, default 5,000)",
)
async def bulk_create_feedback(
    request: Request, deps: DepsDep, principal: PrincipalDep, partial: PartialQuery = False
) -> Response:
    body = await read_json_body(request, max_bytes=deps.settings.max_body_bytes)
    items = items_of(body, max_items=deps.settings.max_predictions_per_request, noun="feedback items")
    return await _log(items, deps, principal, partial)
