"""Annotated dependency aliases reading ``app.state.deps``."""

from __future__ import annotations

from typing import Annotated

from claystream_common.datasets import DatasetSpec
from fastapi import Depends, Request

from claystream_annotate.api.auth import current_principal
from claystream_annotate.bootstrap import Deps
from claystream_annotate.services.datasets import get_dataset
from claystream_annotate.services.principals import Principal


async def get_deps(request: Request) -> Deps:
    return request.app.state.deps


DepsDep = Annotated[Deps, Depends(get_deps)]


async def dataset_spec(workspace: str, dataset: str, request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> DatasetSpec:
    """The dataset named in the path, visible to the caller (404 otherwise)."""
    return await get_dataset(actor=principal, workspace=workspace, name=dataset, datasets=request.app.state.deps.datasets)


SpecDep = Annotated[DatasetSpec, Depends(dataset_spec)]
