"""``GET /api/v1/limits``: the request limits clients must respect (the SDK sizes its batches from them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from claystream_ingest.api.deps import DepsDep, PrincipalDep

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/limits")
async def limits(principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    """Items per ``:bulk`` request and body size, as configured on this server."""
    settings = deps.settings
    return {
        "max_records_per_request": settings.max_records_per_request,
        "max_predictions_per_request": settings.max_predictions_per_request,
        "max_body_bytes": settings.max_body_bytes,
    }
