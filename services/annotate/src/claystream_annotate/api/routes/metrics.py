from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep, SpecDep
from claystream_annotate.services.metrics import dataset_metrics

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/datasets/{dataset}", tags=["metrics"])


@router.get("/metrics")
async def metrics_route(spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    """Per-annotator counts, Krippendorff's alpha per question, label distribution (admins)."""
    return await dataset_metrics(actor=principal, spec=spec, responses=deps.responses, users=deps.users)
