"""``POST /api/v1/datasets/{dataset}/records:bulk``."""

from __future__ import annotations

from typing import Annotated

from claystream_common.telemetry import current_traceparent
from fastapi import APIRouter, Query, Request, Response, status

from claystream_ingest.api.body import read_json_body
from claystream_ingest.api.deps import DepsDep, PrincipalDep
from claystream_ingest.api.openapi import json_body
from claystream_ingest.api.responses import json_response
from claystream_ingest.api.schemas import ERROR_RESPONSES, RecordsAcceptedOut, RecordsBulkIn
from claystream_ingest.services.records import ingest_records

router = APIRouter(prefix="/api/v1", tags=["records"])

PartialQuery = Annotated[bool, Query(description="accept the valid items and list the rejected ones")]


@router.post(
    "/datasets/{dataset}/records:bulk",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RecordsAcceptedOut,
    responses=ERROR_RESPONSES,
    openapi_extra=json_body(RecordsBulkIn),
    summary="Log up to 1,000 records (10 MB) into a dataset of the key's workspace",
)
async def bulk_create_records(
    dataset: str, request: Request, deps: DepsDep, principal: PrincipalDep, partial: PartialQuery = False
) -> Response:
    body = await read_json_body(request, max_bytes=deps.settings.max_body_bytes)
    result = await ingest_records(
        body,
        dataset=dataset,
        principal=principal,
        partial=partial,
        catalog=deps.datasets,
        validators=deps.validators,
        publisher=deps.publisher,
        max_items=deps.settings.max_records_per_request,
        publish_timeout_s=deps.settings.kafka_publish_timeout_s,
        max_record_bytes=deps.settings.record_limit_bytes,
        traceparent=current_traceparent(),
    )
    return json_response(
        {"accepted": result.accepted, "record_ids": result.ids, "rejected": result.rejected},
        status_code=status.HTTP_202_ACCEPTED,
    )
