from __future__ import annotations

from typing import Annotated, Any

from claystream_common.datasets import DatasetSpec
from fastapi import APIRouter, Body, Response

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep, SpecDep
from claystream_annotate.services.datasets import (
    create_dataset,
    dataset_progress,
    delete_dataset,
    list_datasets,
    render_guidelines,
    update_dataset,
)

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/datasets", tags=["datasets"])
SpecBody = Annotated[dict[str, Any], Body(description="DatasetSpec fields")]


def _public(spec: DatasetSpec, progress: dict[str, int] | None = None) -> dict[str, Any]:
    out = spec.model_dump(mode="json")
    if progress is not None:
        out["progress"] = progress
    return out


@router.get("")
async def list_route(workspace: str, principal: PrincipalDep, deps: DepsDep) -> list[dict[str, Any]]:
    """The workspace's datasets with progress counters (records, completed)."""
    specs = await list_datasets(actor=principal, workspace=workspace, datasets=deps.datasets)
    progress = await dataset_progress(specs, counters=deps.counters)
    return [_public(spec, progress[spec.id]) for spec in specs]


@router.post("", status_code=201)
async def create_route(workspace: str, principal: PrincipalDep, deps: DepsDep, body: SpecBody) -> dict[str, Any]:
    """Body: DatasetSpec fields (name, guidelines, fields, questions, metadata_properties, min_submitted, trainer)."""
    spec = await create_dataset(
        body, actor=principal, workspace=workspace, datasets=deps.datasets, counters=deps.counters, queue=deps.queue,
        workspaces=deps.workspaces,
    )
    return _public(spec)


@router.get("/{dataset}")
async def get_route(spec: SpecDep, deps: DepsDep) -> dict[str, Any]:
    progress = await dataset_progress([spec], counters=deps.counters)
    return _public(spec, progress[spec.id]) | {"guidelines_html": render_guidelines(spec.guidelines)}


@router.patch("/{dataset}")
async def patch_route(
    workspace: str, dataset: str, principal: PrincipalDep, deps: DepsDep, body: SpecBody
) -> dict[str, Any]:
    spec = await update_dataset(body, actor=principal, workspace=workspace, name=dataset, datasets=deps.datasets)
    return _public(spec)


@router.delete("/{dataset}", status_code=204)
async def delete_route(workspace: str, dataset: str, principal: PrincipalDep, deps: DepsDep) -> Response:
    await delete_dataset(
        actor=principal, workspace=workspace, name=dataset, datasets=deps.datasets, records=deps.records,
        responses=deps.responses, queue=deps.queue, counters=deps.counters, publisher=deps.publisher,
        vectors=deps.vectors, model_events=deps.model_events,
    )
    return Response(status_code=204)


@router.get("/{dataset}/training")
async def training_route(spec: SpecDep, deps: DepsDep, limit: int = 20) -> list[dict[str, Any]]:
    """Recent models-topic events of the dataset (training progress, new models), newest first."""
    events = await deps.model_events.recent(spec.workspace, spec.name, limit=max(1, min(limit, 200)))
    return [{"event_id": e["_id"], "type": e["type"], "data": e["data"], "occurred_at": e["occurred_at"]} for e in events]
