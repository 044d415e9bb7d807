"""What every service's FastAPI app has in common: health, readiness, metrics, tracing."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from claystream_common.errors import unavailable_dependency, unavailable_stores
from claystream_common.logs import setup_logging
from claystream_common.metrics import READY, HttpMetrics, metrics_response
from claystream_common.request_guards import BodyLimit, OperatorOnly
from claystream_common.runtime import standard_checks
from claystream_common.settings import BaseAppSettings
from claystream_common.telemetry import flush_telemetry, instrument_fastapi, setup_telemetry

ReadinessCheck = Callable[[], Awaitable[object]]
log = logging.getLogger(__name__)


async def request_invalid(_: Request, error: Exception) -> Response:
    """FastAPI's 422 (``{"detail": [{"loc", "msg", "type"}]}``) without echoing the input back: the input may be
    no JSON at all (NaN, Infinity, a lone surrogate), and writing it into the answer failed as a 500."""
    assert isinstance(error, RequestValidationError)
    detail = [{"loc": list(item.get("loc", ())), "msg": str(item.get("msg", "invalid")), "type": str(item.get("type", "value_error"))}
              for item in error.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


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
    app.add_middleware(HttpMetrics, service=service)
    app.include_router(health_router(checks, service))
    instrument_fastapi(app)


AppHook = Callable[[FastAPI], Awaitable[None]]


RETRY_AFTER_S = 5


async def dependency_unavailable(request: Request, error: Exception) -> Response:
    """A store that cannot be reached is a 503 with ``Retry-After`` (the readiness probe says the same), logged as
    one line: it was a 500 with a traceback, and uvicorn closed the connection after it."""
    name = unavailable_dependency(error) or "a dependency"
    log.warning("%s %s: %s is unavailable (%s): answered 503", request.method, request.url.path, name, type(error).__name__)
    detail = f"{name} is unavailable; retry later"
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if "text/html" in request.headers.get("accept", "") and not request.headers.get("HX-Request"):
        page = f"<!doctype html><title>Unavailable</title><h1>Temporarily unavailable</h1><p>{detail}.</p>"
        return HTMLResponse(page, status_code=503, headers=headers)
    return JSONResponse({"detail": detail}, status_code=503, headers=headers)


def create_service_app(
    settings: BaseAppSettings,
    *,
    title: str,
    start: AppHook,
    stop: AppHook,
    description: str = "",
    body_limits: dict[str, int] | None = None,
    extra_checks: Callable[[FastAPI], Mapping[str, ReadinessCheck]] | None = None,
) -> FastAPI:
    """A service's FastAPI app with the shared lifespan and operations routes.

    The lifespan sets up logging and tracing, then calls ``start(app)`` (which builds the
    service's Deps through its bootstrap and stores them on ``app.state.deps``), and
    ``stop(app)`` on shutdown.  ``/readyz`` pings the Deps' ``kafka``, ``mongo`` and ``redis``
    (a Deps without ``redis`` skips it), plus ``extra_checks(app)`` (e.g. "champions loaded").
    Every request passes :mod:`claystream_common.request_guards` first: bodies over
    ``max_body_bytes`` (or a tighter ``body_limits[path prefix]``) get 413; ``/metrics`` and the
    docs need a bearer token in production.

    After ``start(app)`` the heap built at start-up (modules, models, clients: hundreds of MB in the
    monitor and the trainer) is moved out of the cycle collector's reach (``gc.freeze``).  Without it,
    every full collection walked all of it: 7 of them took 0.69 s of the monitor's 9 s under 44,500
    events (bench/drift.py), 4,700 → 5,100 events/s.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging(settings.log_level, json_lines=settings.log_json)
        setup_telemetry(settings.service_name, otlp_endpoint=settings.otlp_endpoint)
        await start(app)
        gc.collect()
        gc.freeze()  # the start-up heap leaves the cycle collector (see the docstring)
        try:
            yield
        finally:
            gc.unfreeze()  # what start-up built may be collected again once stopped (tests start many apps)
            try:
                await stop(app)
            finally:
                await asyncio.to_thread(flush_telemetry)  # the spans of the last seconds, stop's own included

    app = FastAPI(title=title, version="0.1.0", description=description, lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, request_invalid)
    for error_class in unavailable_stores():
        app.add_exception_handler(error_class, dependency_unavailable)
    app.add_middleware(OperatorOnly, settings=settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, per_path=body_limits or {})

    def checks() -> Mapping[str, ReadinessCheck]:
        deps = app.state.deps
        named = standard_checks(kafka=deps.kafka, mongo=deps.mongo, redis=getattr(deps, "redis", None))
        return {**named, **(extra_checks(app) if extra_checks is not None else {})}

    install_operations(app, service=settings.service_name, checks=checks)
    return app
