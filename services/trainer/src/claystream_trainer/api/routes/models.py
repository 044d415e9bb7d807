"""Model endpoints: read the registry, promote / roll back / train (admin); predict is in ``predict.py``."""

from __future__ import annotations

import dataclasses

from claystream_common.datasets import NAME_PATTERN, DatasetSpec
from fastapi import APIRouter, HTTPException, Path, status

from claystream_trainer.api.auth import AdminDep, PrincipalDep
from claystream_trainer.api.deps import DepsDep
from claystream_trainer.api.schemas import (
    ModelList,
    ModelPublic,
    TrainAccepted,
    TrainRequest,
    error_responses,
)
from claystream_trainer.domain.ports import ArtifactError, DatasetKey, ModelEntry
from claystream_trainer.services.admin import UnknownModel, promote_version, rollback
from claystream_trainer.services.refresh import NotEnoughLabels, check_trainable
from claystream_trainer.services.scheduler import read_counts
from claystream_trainer.services.training_data import load_training_data, training_target

router = APIRouter(prefix="/api/v1/models", tags=["models"])
DatasetName = Path(pattern=NAME_PATTERN, description="dataset name in the caller's workspace")


def _public(entry: ModelEntry) -> ModelPublic:
    return ModelPublic.model_validate(dataclasses.asdict(entry))


@router.get("/{dataset}", response_model=ModelList, responses=error_responses())
async def list_models(principal: PrincipalDep, deps: DepsDep, dataset: str = DatasetName) -> ModelList:
    key = DatasetKey(principal.workspace, dataset)
    entries = await deps.ports.registry.list(key)
    champion = next((e.version for e in entries if e.status == "champion"), None)
    return ModelList(items=[_public(e) for e in entries], champion=champion)


@router.get("/{dataset}/status", responses=error_responses(404))
async def training_status(principal: PrincipalDep, deps: DepsDep, dataset: str = DatasetName) -> dict[str, object]:
    key = DatasetKey(principal.workspace, dataset)
    spec = await _spec_or_404(deps, key)
    counts = await read_counts(key, ports=deps.ports)
    champion = await deps.ports.registry.champion(key)
    target = training_target(spec)
    trains = {"question": target.question, "kind": target.kind, "labels": target.labels} if target else None
    return {"dataset": dataset, "trains": trains, "labels_per_class": counts.per_class,
            "new_since_refresh": counts.new_since_refresh,
            "new_since_finetune": counts.new_since_finetune, "champion": champion.version if champion else None,
            "load_error": deps.champions.load_errors.get(key), "embedded_records": deps.worker.covered.get(key, 0)}


async def _spec_or_404(deps: DepsDep, key: DatasetKey) -> DatasetSpec:
    spec = await deps.ports.specs.get(key)
    if spec is None:
        raise HTTPException(404, detail={"field": "dataset", "reason": f"no dataset {key.dataset} in workspace {key.workspace}"})
    return spec


async def _entry_or_404(deps: DepsDep, key: DatasetKey, version: str) -> ModelEntry:
    entry = await deps.ports.registry.get(key, version)
    if entry is None:
        raise HTTPException(404, detail={"field": "version", "reason": f"no model {version} for {key.dataset}"})
    return entry


@router.get("/{dataset}/versions/{version}", response_model=ModelPublic, responses=error_responses(404))
async def get_model(version: str, principal: PrincipalDep, deps: DepsDep, dataset: str = DatasetName) -> ModelPublic:
    return _public(await _entry_or_404(deps, DatasetKey(principal.workspace, dataset), version))


@router.get("/{dataset}/versions/{version}/metrics", responses=error_responses(404))
async def get_metrics(version: str, principal: PrincipalDep, deps: DepsDep, dataset: str = DatasetName) -> dict[str, object]:
    entry = await _entry_or_404(deps, DatasetKey(principal.workspace, dataset), version)
    return {"version": entry.version, "kind": entry.kind, "label_count": entry.label_count, "metrics": entry.metrics}


@router.post("/{dataset}/versions/{version}/promote", response_model=ModelPublic, responses=error_responses(404, 409))
async def promote(version: str, principal: AdminDep, deps: DepsDep, dataset: str = DatasetName) -> ModelPublic:
    key = DatasetKey(principal.workspace, dataset)
    try:
        entry = await promote_version(key, version, ports=deps.ports, champions=deps.champions)
    except UnknownModel as error:
        raise HTTPException(404, detail={"field": "version", "reason": str(error)}) from None
    except ArtifactError as error:
        raise HTTPException(409, detail={"field": "version", "reason": f"not promoted: {error}"}) from None
    return _public(entry)


@router.post("/{dataset}/rollback", response_model=ModelPublic, responses=error_responses(409))
async def rollback_route(principal: AdminDep, deps: DepsDep, dataset: str = DatasetName) -> ModelPublic:
    key = DatasetKey(principal.workspace, dataset)
    try:
        entry = await rollback(key, ports=deps.ports, champions=deps.champions)
    except UnknownModel as error:
        raise HTTPException(409, detail={"field": "dataset", "reason": str(error)}) from None
    return _public(entry)


@router.post("/{dataset}/train", response_model=TrainAccepted, status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(404, 409))
async def train(body: TrainRequest, principal: AdminDep, deps: DepsDep, dataset: str = DatasetName) -> TrainAccepted:
    """Start a refresh or a fine-tune now (in the background; progress on the models topic)."""
    key = DatasetKey(principal.workspace, dataset)
    spec = await _spec_or_404(deps, key)
    target = training_target(spec)
    if target is None:
        raise HTTPException(409, detail={"field": "dataset", "reason": "the dataset has no question the trainer can "
                                         "learn (label, multi-label or rating): it is never trained"})
    if body.kind == "finetune" and deps.ports.finetuner is None:
        raise HTTPException(409, detail={"field": "kind", "reason": "fine-tuning is disabled on this trainer"})
    try:  # what the run would find out in the background, said now (it would only have logged it)
        check_trainable(await load_training_data(key, spec, ports=deps.ports), spec.trainer.min_per_label)
    except NotEnoughLabels as error:
        raise HTTPException(409, detail={"field": "dataset", "reason": str(error)}) from None
    deps.scheduler.run_now(key, body.kind)
    return TrainAccepted(dataset=dataset, kind=body.kind, accepted=True)
