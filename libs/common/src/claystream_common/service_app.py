"""What every service's FastAPI app has in common: health, readiness, metrics, tracing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response

from claystream_common.metrics import metrics_middleware, metrics_response
from claystream_common.telemetry import instrument_fastapi

ReadinessCheck = Callable[[], Awaitable[object]]


def health_router(checks: Callable[[], Mapping[str, ReadinessCheck]]) -> APIRouter:
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
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": results}, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return metrics_response()

    return router


def install_operations(app: FastAPI, *, service: str, checks: Callable[[], Mapping[str, ReadinessCheck]]) -> None:
    app.middleware("http")(metrics_middleware(service))
    app.include_router(health_router(checks))
    instrument_fastapi(app)
