from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep
from claystream_annotate.services.quarantine import quarantined_entries

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["outbox"])


@router.get("/outbox-quarantine")
async def quarantine_route(workspace: str, principal: PrincipalDep, deps: DepsDep, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Outbox entries the relay could never publish and set aside (admins of the workspace)."""
    return await quarantined_entries(actor=principal, workspace=workspace, quarantine=deps.quarantine, limit=limit)
