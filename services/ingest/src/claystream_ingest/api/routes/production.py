"""Production traffic: ``POST /api/v1/predictions`` and ``/api/v1/feedback``, one or ``:bulk``."""

from __future__ import annotations

from claystream_common.telemetry import current_traceparent
from fastapi import APIRouter, Request, Response, status

from claystream_ingest.api.body import read_json_body
from claystream_ingest.api.deps import DepsDep, PrincipalDep
from claystream_ingest.api.openapi import json_body
from claystream_ingest.api.responses import json_response
from claystream_ingest.api.routes.records import PartialQuery
from claystream_ingest.api.schemas import (
    ERROR_RESPONSES,
    EventsAcceptedOut,
    FeedbackBulkIn,
    FeedbackIn,
    PredictionIn,
    PredictionsBulkIn,
)
from claystream_ingest.bootstrap import Deps
from claystream_ingest.services.auth import Principal
from claystream_ingest.services.production import FEEDBACK, PREDICTIONS, TrafficKind, log_traffic
from claystream_ingest.services.publishing import items_of

router = APIRouter(prefix="/api/v1", tags=["production"])
ACCEPTED = {"status_code": status.HTTP_202_ACCEPTED, "response_model": EventsAcceptedOut, "responses": ERROR_RESPONSES}


async def _log(kind: TrafficKind, items: list[object], deps: Deps, principal: Principal, partial: bool) -> Response:
    result = await log_traffic(
        kind, items, principal=principal, partial=partial, publisher=deps.publisher,
        publish_timeout_s=deps.settings.kafka_publish_timeout_s, catalog=deps.datasets, traceparent=current_traceparent(),
        max_event_bytes=deps.settings.record_limit_bytes,
    )
    return json_response(
        {"accepted": result.accepted, "event_ids": result.ids, "rejected": result.rejected},
        status_code=status.HTTP_202_ACCEPTED,
    )


async def _one(kind: TrafficKind, request: Request, deps: Deps, principal: Principal) -> Response:
    body = await read_json_body(request, max_bytes=deps.settings.max_body_bytes)
    return await _log(kind, [body], deps, principal, partial=False)


async def _bulk(kind: TrafficKind, request: Request, deps: Deps, principal: Principal, partial: bool) -> Response:
    body = await read_json_body(request, max_bytes=deps.settings.max_body_bytes)
    items = items_of(body, max_items=deps.settings.max_predictions_per_request, noun=kind.noun)
    return await _log(kind, items, deps, principal, partial)


@router.post("/predictions", **ACCEPTED, openapi_extra=json_body(PredictionIn), summary="Log one production prediction")
async def create_prediction(request: Request, deps: DepsDep, principal: PrincipalDep) -> Response:
    return await _one(PREDICTIONS, request, deps, principal)


@router.post(
    "/predictions:bulk", **ACCEPTED, openapi_extra=json_body(PredictionsBulkIn),
    summary="Log many production predictions (max_predictions_per_request, default 5,000)",
)
async def bulk_create_predictions(
    request: Request, deps: DepsDep, principal: PrincipalDep, partial: PartialQuery = False
) -> Response:
    return await _bulk(PREDICTIONS, request, deps, principal, partial)


@router.post(
    "/feedback", **ACCEPTED, openapi_extra=json_body(FeedbackIn),
    summary="Log feedback on one prediction (true label and/or a user signal)",
)
async def create_feedback(request: Request, deps: DepsDep, principal: PrincipalDep) -> Response:
    return await _one(FEEDBACK, request, deps, principal)


@router.post(
    "/feedback:bulk", **ACCEPTED, openapi_extra=json_body(FeedbackBulkIn),
    summary="Log many feedback items (max_predictions_per_request, default 5,000)",
)
async def bulk_create_feedback(
    request: Request, deps: DepsDep, principal: PrincipalDep, partial: PartialQuery = False
) -> Response:
    return await _bulk(FEEDBACK, request, deps, principal, partial)
