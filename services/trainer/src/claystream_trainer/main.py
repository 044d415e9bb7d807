"""Trainer service: create_app + lifespan."""

from __future__ import annotations

from collections.abc import Callable

from claystream_common.service_app import create_service_app
from claystream_common.settings import load_settings
from fastapi import FastAPI

from claystream_trainer.api.routes.embeddings import router as embeddings_router
from claystream_trainer.api.routes.models import router as models_router
from claystream_trainer.bootstrap import Deps, build_deps, close_deps, start_deps
from claystream_trainer.config import TrainerSettings


def create_app(settings: TrainerSettings | None = None, *, deps_factory: Callable[[TrainerSettings], Deps] | None = None
               ) -> FastAPI:
    settings = settings or load_settings(TrainerSettings)

    async def start(app: FastAPI) -> None:
        if settings.embedder == "sentence-transformers":
            _limit_threads(settings.torch_threads)
        app.state.deps = (deps_factory or build_deps)(settings)
        await start_deps(app.state.deps)

    async def stop(app: FastAPI) -> None:
        await close_deps(app.state.deps)

    app = create_service_app(settings, title="Claystream trainer", start=start, stop=stop)
    app.include_router(embeddings_router)
    app.include_router(models_router)
    return app


def _limit_threads(threads: int) -> None:
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency of the real embedder only
        pass
