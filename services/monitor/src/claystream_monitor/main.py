"""Monitor service: create_app + lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from claystream_common.logs import setup_logging
from claystream_common.runtime import standard_checks
from claystream_common.service_app import install_operations
from claystream_common.settings import load_settings
from claystream_common.telemetry import setup_telemetry
from fastapi import FastAPI

from claystream_monitor.api.routes import dashboard, monitoring
from claystream_monitor.bootstrap import build_deps, close_deps, limit_native_threads, prepare_storage
from claystream_monitor.config import MonitorSettings


def create_app(settings: MonitorSettings | None = None) -> FastAPI:
    settings = settings or load_settings(MonitorSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging(settings.log_level, json_lines=settings.log_json)
        setup_telemetry(settings.service_name, otlp_endpoint=settings.otlp_endpoint)
        limit_native_threads(settings.native_threads)
        deps = build_deps(settings)
        app.state.deps = deps
        await prepare_storage(deps)
        await deps.kafka.start()
        try:
            yield
        finally:
            await close_deps(deps)

    app = FastAPI(title="Claystream monitor", version="0.1.0", lifespan=lifespan)
    install_operations(
        app,
        service=settings.service_name,
        checks=lambda: standard_checks(kafka=app.state.deps.kafka, mongo=app.state.deps.mongo, redis=app.state.deps.redis),
    )
    app.include_router(monitoring.router)
    dashboard.install(app)
    return app
