"""What every service's FastAPI app has in common: health, readiness, metrics, tracing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response

from claystream_common.logs import setup_logging
from claystream_common.metrics import READY, metrics_middleware, metrics_response
from claystream_common.runtime import standard_checks
from claystream_common.settings import BaseAppSettings
from claystream_common.telemetry import instrument_fastapi, setup_telemetry

ReadinessCheck = Callable[[], Awaitable[object]]


def health_router(checks: Callable[[], Mapping[str, ReadinessCheck]], service: str = "claystream") -> APIRouter:
    """``/healthz`` (process alive), ``/readyz`` (every dependency answers), ``/metrics``."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: Kafka, MongoDB and Redis answer", response_model=None)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        named = dict(checks())
        outcomes = await asyncio.gather(
            *(asyncio.wait_for(check(), timeout=2.0) for check in named.values()), return_exceptions=True
        )
        for name, outcome in zip(named, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                results[name] = f"down: {type(outcome).__name__}"
            elif outcome is False:
                results[name] = "down"
            else:
                results[name] = "ok"
        ready = all(value == "ok" for value in results.values())
        READY.labels(service).set(1 if ready else 0)  # alerts.yml: ClaystreamServiceNotReady
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": results}, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return metrics_response()

    return router


def install_operations(app: FastAPI, *, service: str, checks: Callable[[], Mapping[str, ReadinessCheck]]) -> None:
    app.middleware("http")(metrics_middleware(service))
    app.include_router(health_router(checks, service))
    instrument_fastapi(app)


AppHook = Callable[[FastAPI], Awaitable[None]]


def create_service_app(
    settings: BaseAppSettings,
    *,
    title: str,
    start: AppHook,
    stop: AppHook,
    description: str = "",
) -> FastAPI:
    """A service's FastAPI app with the shared lifespan and operations routes.

    The lifespan sets up logging and tracing, then calls ``start(app)`` (which builds the
    service's Deps through its bootstrap and stores them on ``app.state.deps``), and
    ``stop(app)`` on shutdown.  ``/readyz`` pings the Deps' ``kafka``, ``mongo`` and ``redis``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging(settings.log_level, json_lines=settings.log_json)
        setup_telemetry(settings.service_name, otlp_endpoint=settings.otlp_endpoint)
        await start(app)
        try:
            yield
        finally:
            await stop(app)

    app = FastAPI(title=title, version="0.1.0", description=description, lifespan=lifespan)

    def checks() -> Mapping[str, ReadinessCheck]:
        deps = app.state.deps
        return standard_checks(kafka=deps.kafka, mongo=deps.mongo, redis=deps.redis)

    install_operations(app, service=settings.service_name, checks=checks)
    return app
