"""``GET /api/v1/me``: which workspace a key belongs to (the SDK uses it to build annotate URLs)."""

from __future__ import annotations

from fastapi import APIRouter

from claystream_ingest.api.deps import PrincipalDep
from claystream_ingest.api.schemas import ERROR_RESPONSES, WhoAmI

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/me", response_model=WhoAmI, responses={k: ERROR_RESPONSES[k] for k in (401, 403, 429, 503)})
async def who_am_i(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(workspace=principal.workspace, key_id=principal.subject, role=principal.role)
