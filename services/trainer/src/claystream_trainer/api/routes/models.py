"""Model endpoints: predict with the champion, read the registry, promote / roll back / train (admin)."""

from __future__ import annotations

import asyncio
import dataclasses

from claystream_common.datasets import NAME_PATTERN
from fastapi import APIRouter, HTTPException, Path, status

from claystream_trainer.api.auth import AdminDep, PrincipalDep
from claystream_trainer.api.deps import DepsDep
from claystream_trainer.api.schemas import (
    ModelList,
    ModelPublic,
    PredictionPublic,
    PredictRequest,
    PredictResponse,
    TrainAccepted,
    TrainRequest,
)
from claystream_trainer.domain.ports import ArtifactError, DatasetKey, ModelEntry
from claystream_trainer.services.admin import UnknownModel, promote_version, rollback
from claystream_trainer.services.champions import ShadowLoadsExhausted
from claystream_trainer.services.predict import NoChampion, predict
from claystream_trainer.services.scheduler import read_counts
from claystream_trainer.services.training_data import training_target

router = APIRouter(prefix="/api/v1/models", tags=["models"])
DatasetName = Path(pattern=NAME_PATTERN, description="dataset name in the caller's workspace")


def _public(entry: ModelEntry) -> ModelPublic:
    return ModelPublic.model_validate(dataclasses.asdict(entry))


@router.post("/{dataset}/predict", response_model=PredictResponse)
async def predict_route(body: PredictRequest, principal: PrincipalDep, deps: DepsDep,
                        dataset: str = DatasetName) -> PredictResponse:
    texts = body.batch()
    if len(texts) > deps.settings.predict_max_batch:
        raise HTTPException(422, detail={"field": "texts", "reason": f"at most {deps.settings.predict_max_batch} texts"})
    key = DatasetKey(principal.workspace, dataset)
    forward = body.forward
    if forward is None:
        spec = await deps.ports.specs.get(key)
        forward = bool(spec and spec.trainer.forward_predictions)
    try:
        result = await predict(key, texts, champions=deps.champions, publisher=deps.ports.publisher,
                               forward=forward, request_id=body.request_id,
                               version=body.model_version, registry=deps.ports.registry,
                               component=body.component)
    except NoChampion as error:
        field = "model_version" if body.model_version else "dataset"
        raise HTTPException(404, detail={"field": field, "reason": str(error)}) from None
    except ArtifactError as error:
        raise HTTPException(409, detail={"field": "model_version", "reason": str(error)}) from None
    except ShadowLoadsExhausted as error:
        raise HTTPException(429, detail={"field": "model_version", "reason": str(error)},
                            headers={"Retry-After": str(max(1, round(error.retry_after_s)))}) from None
    predictions = [PredictionPublic(**dataclasses.asdict(p)) for p in result.predictions]
    single = predictions[0] if body.text is not None else None
    return PredictResponse(request_id=result.request_id, dataset=dataset, model_version=result.model_version,
                           component=result.component, label=single.label if single else None,
                           labels=single.labels if single else None,
                           score=single.score if single else None,
                           predictions=predictions)


@router.get("/{dataset}", response_model=ModelList)
async def list_models(principal: PrincipalDep, deps: DepsDep, dataset: str = DatasetName) -> ModelList:
    key = DatasetKey(principal.workspace, dataset)
    entries = await deps.ports.registry.list(key)
    champion = next((e.version for e in entries if e.status == "champion"), None)
    return ModelList(items=[_public(e) for e in entries], champion=champion)


@router.get("/{dataset}/status")
async def training_status(principal: PrincipalDep, deps: DepsDep, dataset: str = DatasetName) -> dict[str, object]:
    key = DatasetKey(principal.workspace, dataset)
    counts = await read_counts(key, ports=deps.ports)
    champion = await deps.ports.registry.champion(key)
    target = training_target(await deps.ports.specs.get(key))
    trains = {"question": target.question, "kind": target.kind, "labels": target.labels} if target else None
    return {"dataset": dataset, "trains": trains, "labels_per_class": counts.per_class,
            "new_since_refresh": counts.new_since_refresh,
            "new_since_finetune": counts.new_since_finetune, "champion": champion.version if champion else None,
            "load_error": deps.champions.load_errors.get(key), "embedded_records": deps.worker.embedded}


async def _entry_or_404(deps: DepsDep, key: DatasetKey, version: str) -> ModelEntry:
    entry = await deps.ports.registry.get(key, version)
    if entry is None:
        raise HTTPException(404, detail={"field": "version", "reason": f"no model {version} for {key.dataset}"})
    return entry


@router.get("/{dataset}/versions/{version}", response_model=ModelPublic)
async def get_model(version: str, principal: PrincipalDep, deps: DepsDep, dataset: str = DatasetName) -> ModelPublic:
    return _public(await _entry_or_404(deps, DatasetKey(principal.workspace, dataset), version))


@router.get("/{dataset}/versions/{version}/metrics")
async def get_metrics(version: str, principal: PrincipalDep, deps: DepsDep, dataset: str = DatasetName) -> dict[str, object]:
    entry = await _entry_or_404(deps, DatasetKey(principal.workspace, dataset), version)
    return {"version": entry.version, "kind": entry.kind, "label_count": entry.label_count, "metrics": entry.metrics}


@router.post("/{dataset}/versions/{version}/promote", response_model=ModelPublic)
async def promote(version: str, principal: AdminDep, deps: DepsDep, dataset: str = DatasetName) -> ModelPublic:
    key = DatasetKey(principal.workspace, dataset)
    try:
        entry = await promote_version(key, version, ports=deps.ports, champions=deps.champions)
    except UnknownModel as error:
        raise HTTPException(404, detail={"field": "version", "reason": str(error)}) from None
    except ArtifactError as error:
        raise HTTPException(409, detail={"field": "version", "reason": f"not promoted: {error}"}) from None
    return _public(entry)


@router.post("/{dataset}/rollback", response_model=ModelPublic)
async def rollback_route(principal: AdminDep, deps: DepsDep, dataset: str = DatasetName) -> ModelPublic:
    key = DatasetKey(principal.workspace, dataset)
    try:
        entry = await rollback(key, ports=deps.ports, champions=deps.champions)
    except UnknownModel as error:
        raise HTTPException(409, detail={"field": "dataset", "reason": str(error)}) from None
    return _public(entry)


@router.post("/{dataset}/train", response_model=TrainAccepted, status_code=status.HTTP_202_ACCEPTED)
async def train(body: TrainRequest, principal: AdminDep, deps: DepsDep, dataset: str = DatasetName) -> TrainAccepted:
    """Start a refresh or a fine-tune now (in the background; progress on the models topic)."""
    key = DatasetKey(principal.workspace, dataset)
    target = training_target(await deps.ports.specs.get(key))
    if target is None:
        raise HTTPException(409, detail={"field": "dataset", "reason": "the dataset has no question the trainer can "
                                         "learn (label, multi-label or rating): it is never trained"})
    if body.kind == "finetune" and deps.ports.finetuner is None:
        raise HTTPException(409, detail={"field": "kind", "reason": "fine-tuning is disabled on this trainer"})
    task = asyncio.create_task(deps.scheduler.check_and_run(key, force=body.kind))
    deps.background.add(task)
    task.add_done_callback(deps.background.discard)
    return TrainAccepted(dataset=dataset, kind=body.kind, accepted=True)
