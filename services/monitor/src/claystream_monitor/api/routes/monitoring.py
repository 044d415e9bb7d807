"""JSON API: the monitored models and, per model version, traffic, drift, accuracy, alerts, samples."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.encoders import jsonable_encoder

from claystream_monitor.api.deps import EngineDep, StoreDep, ViewerDep
from claystream_monitor.services.overview import latest_scores, list_models, model_overview

router = APIRouter(prefix="/api/v1", tags=["monitoring"])


@router.get("/models", summary="Monitored model versions the caller may see")
async def get_models(viewer: ViewerDep, store: StoreDep, engine: EngineDep) -> dict[str, Any]:
    models = await list_models(store=store, engine=engine, workspaces=viewer.workspaces)
    return jsonable_encoder({"items": models})


@router.get("/models/{model:path}/overview", summary="Traffic, drift scores, accuracy, alerts and samples of a model version")
async def get_overview(
    model: str, viewer: ViewerDep, store: StoreDep, engine: EngineDep,
    version: str | None = Query(default=None, description="model version (default: the champion, else the latest seen)"),
    hours: float = Query(default=24, gt=0, le=24 * 90, description="time range of the traffic series"),
    workspace: str | None = Query(default=None, description="the model's workspace, when the caller sees several"),
) -> dict[str, Any]:
    """``model`` may hold "/" (``org/model``)."""
    models = [m for m in await list_models(store=store, engine=engine, workspaces=viewer.workspaces) if m["model"] == model]
    if workspace is not None:
        models = [m for m in models if m["workspace"] == workspace]
    if version is not None:
        models = [m for m in models if m["model_version"] == version]
    if not models:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"model: no monitored model {model!r}" +
                            (f" with version {version!r}" if version else ""))
    chosen = next((m for m in models if m["champion"]), models[-1])
    overview = await model_overview(chosen["id"], store=store, hours=hours)
    return jsonable_encoder({"model": chosen, "scores": latest_scores(overview), **overview})
