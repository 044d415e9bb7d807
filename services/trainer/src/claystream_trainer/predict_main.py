"""The predict role: ``uvicorn --factory claystream_trainer.predict_main:create_app``.

Serves ``POST /api/v1/models/{dataset}/predict`` (the trainer's route, same auth) from champions in the
shared model store; trains nothing.  ``/readyz`` says ready once every current champion was loaded.
It reads the trainer's settings (``CLAYSTREAM_TRAINER_*``); its service name is always ``predict``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from claystream_common.service_app import ReadinessCheck, create_service_app
from claystream_common.settings import load_settings
from fastapi import FastAPI

from claystream_trainer.api.routes.predict import router as predict_router
from claystream_trainer.config import TrainerSettings
from claystream_trainer.main import limit_torch_threads
from claystream_trainer.predict_bootstrap import PredictDeps, build_predict_deps, close_predict_deps
from claystream_trainer.services.serving import warm_up

log = logging.getLogger(__name__)


def create_app(settings: TrainerSettings | None = None, *,
               deps_factory: Callable[[TrainerSettings], PredictDeps] | None = None) -> FastAPI:
    settings = settings or load_settings(TrainerSettings, service_name="predict")

    async def start(app: FastAPI) -> None:
        if settings.embedder == "sentence-transformers":
            limit_torch_threads(settings.torch_threads)
        deps = (deps_factory or build_predict_deps)(settings)
        app.state.deps = deps
        await deps.kafka.start()  # joined before warming up: a promotion in between is heard
        app.state.warm_up = asyncio.create_task(_warm_up_until_done(deps), name="predict-warm-up")

    async def stop(app: FastAPI) -> None:
        warming = getattr(app.state, "warm_up", None)
        if warming is not None:
            warming.cancel()
        await close_predict_deps(app.state.deps)

    def champions_loaded(app: FastAPI) -> Mapping[str, ReadinessCheck]:
        async def check() -> bool:
            return bool(app.state.deps.readiness.warmed)

        return {"champions": check}

    app = create_service_app(settings, title="Claystream predict", start=start, stop=stop,
                             extra_checks=champions_loaded)
    app.include_router(predict_router)
    return app


async def _warm_up_until_done(deps: PredictDeps) -> None:
    delay = 0.5
    while True:
        try:
            await warm_up(deps.champions, deps.ports.registry, deps.readiness)
            return
        except Exception as error:  # noqa: BLE001 - MongoDB not reachable yet: not ready, try again
            log.warning("predict warm-up failed, retrying: %r", error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
