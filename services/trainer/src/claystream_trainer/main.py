"""Trainer service: create_app + lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from claystream_common.logs import setup_logging
from claystream_common.runtime import standard_checks
from claystream_common.service_app import install_operations
from claystream_common.settings import load_settings
from claystream_common.telemetry import setup_telemetry
from fastapi import FastAPI

from claystream_trainer.api.routes.models import router as models_router
from claystream_trainer.bootstrap import Deps, build_deps, close_deps, start_deps
from claystream_trainer.config import TrainerSettings


def create_app(settings: TrainerSettings | None = None, *, deps_factory: Callable[[TrainerSettings], Deps] | None = None
               ) -> FastAPI:
    settings = settings or load_settings(TrainerSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging(settings.log_level, json_lines=settings.log_json)
        setup_telemetry(settings.service_name, otlp_endpoint=settings.otlp_endpoint)
        if settings.embedder == "sentence-transformers":
            _limit_threads(settings.torch_threads)
        deps = (deps_factory or build_deps)(settings)
        app.state.deps = deps
        await start_deps(deps)
        try:
            yield
        finally:
            await close_deps(deps)

    app = FastAPI(title="Claystream trainer", version="0.1.0", lifespan=lifespan)
    install_operations(
        app,
        service=settings.service_name,
        checks=lambda: standard_checks(kafka=app.state.deps.kafka, mongo=app.state.deps.mongo, redis=app.state.deps.redis),
    )
    app.include_router(models_router)
    return app


def _limit_threads(threads: int) -> None:
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency of the real embedder only
        pass
