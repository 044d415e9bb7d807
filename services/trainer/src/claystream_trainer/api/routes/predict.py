"""Predict with the champion: the same route on the trainer and on every predict replica."""

from __future__ import annotations

import dataclasses

from claystream_common.datasets import NAME_PATTERN
from fastapi import APIRouter, HTTPException, Path

from claystream_trainer.api.auth import PrincipalDep
from claystream_trainer.api.deps import ServingDepsDep
from claystream_trainer.api.schemas import PredictionPublic, PredictRequest, PredictResponse, error_responses
from claystream_trainer.domain.ports import ArtifactError, DatasetKey
from claystream_trainer.services.champions import ShadowLoadsExhausted
from claystream_trainer.services.predict import NoChampion, predict

router = APIRouter(prefix="/api/v1/models", tags=["predict"])
DatasetName = Path(pattern=NAME_PATTERN, description="dataset name in the caller's workspace")


@router.post("/{dataset}/predict", response_model=PredictResponse, responses=error_responses(404, 409, 429))
async def predict_route(body: PredictRequest, principal: PrincipalDep, deps: ServingDepsDep,
                        dataset: str = DatasetName) -> PredictResponse:
    texts = body.batch()
    if len(texts) > deps.settings.predict_max_batch:
        raise HTTPException(422, detail=[{"loc": ["body", "texts"], "msg": f"at most {deps.settings.predict_max_batch} texts",
                                          "type": "too_long"}])  # the documented 422: FastAPI's list of errors
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
