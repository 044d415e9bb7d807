"""The records' embeddings (service-to-service: annotate's similarity search over ``trainer_embeddings``)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Query

from claystream_trainer.api.auth import AdminDep
from claystream_trainer.api.deps import DepsDep
from claystream_trainer.api.schemas import error_responses
from claystream_trainer.api.routes.models import DatasetName
from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.services.embeddings_export import embeddings_page

router = APIRouter(prefix="/api/v1/models", tags=["models"])


@router.get("/{dataset}/embeddings", responses=error_responses())
async def embeddings_route(principal: AdminDep, deps: DepsDep, dataset: str = DatasetName,
                           after: str | None = Query(default=None, description="the previous page's next_after"),
                           limit: int = Query(default=5000, ge=1, le=20000)) -> dict[str, object]:
    """One page of record embeddings in record-id order: ``ids``, ``vectors`` (base64 of little-endian float32,
    ``len(ids)`` × ``dimensions``, row-major), ``body_key`` (the model body that made them), ``next_after``."""
    page = await embeddings_page(DatasetKey(principal.workspace, dataset), ports=deps.ports, champions=deps.champions,
                                 after=after, limit=limit)
    dimensions = int(page.vectors.shape[1]) if page.ids else 0
    return {"dataset": dataset, "body_key": page.body_key, "dimensions": dimensions, "ids": page.ids,
            "vectors": base64.b64encode(page.vectors.astype("<f4").tobytes()).decode(), "next_after": page.next_after}
