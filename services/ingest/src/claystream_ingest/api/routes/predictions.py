"""``POST /api/v1/predictions`` and ``POST /api/v1/predictions:bulk`` (production traffic)."""

from __future__ import annotations

from claystream_common.telemetry import current_traceparent
from fastapi import APIRouter, Request, Response, status

from claystream_ingest.api.body import read_json_body
from claystream_ingest.api.deps import DepsDep, PrincipalDep
from claystream_ingest.api.openapi import json_body
from claystream_ingest.api.responses import json_response
from claystream_ingest.api.routes.records import PartialQuery
from claystream_ingest.api.schemas import ERROR_RESPONSES, EventsAcceptedOut, PredictionIn, PredictionsBulkIn
from claystream_ingest.bootstrap import Deps
from claystream_ingest.services.auth import Principal
from claystream_ingest.services.production import log_predictions
from claystream_ingest.services.publishing import items_of

router = APIRouter(prefix="/api/v1", tags=["production"])


async def _log(items: list[object], deps: Deps, principal: Principal, partial: bool) -> Response:
    result = await log_predictions(
        items, principal=principal, partial=partial, publisher=deps.publisher,
        publish_timeout_s=deps.settings.kafka_publish_timeout_s, catalog=deps.datasets, traceparent=current_traceparent(),
    )
    return json_response(
        {"accepted": result.accepted, "event_ids": result.ids, "rejected": result.rejected},
        status_code=status.HTTP_202_ACCEPTED,
    )


@router.post(
    "/predictions", status_code=status.HTTP_202_ACCEPTED, response_model=EventsAcceptedOut,
    responses=ERROR_RESPONSES, openapi_extra=json_body(PredictionIn),
    summary="Log one production prediction",
)
async def create_prediction(request: Request, deps: DepsDep, principal: PrincipalDep) -> Response:
    body = await read_json_body(request, max_bytes=deps.settings.max_body_bytes)
    return await _log([body], deps, principal, partial=False)


@router.post(
    "/predictions:bulk", status_code=status.HTTP_202_ACCEPTED, response_model=EventsAcceptedOut,
    responses=ERROR_RESPONSES, openapi_extra=json_body(PredictionsBulkIn),
    summary="Log many production predictions (max_predictions_per_request, default 5,000)",
)
async def bulk_create_predictions(
    request: Request, deps: DepsDep, principal: PrincipalDep, partial: PartialQuery = False
) -> Response:
    body = await read_json_body(request, max_bytes=deps.settings.max_body_bytes)
    items = items_of(body, max_items=deps.settings.max_predictions_per_request, noun="predictions")
    return await _log(items, deps, principal, partial)
