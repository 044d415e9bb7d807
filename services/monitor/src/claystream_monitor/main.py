"""Monitor service: create_app + lifespan."""

from __future__ import annotations

from claystream_common.service_app import create_service_app
from claystream_common.settings import load_settings
from fastapi import FastAPI

from claystream_monitor.api.routes import dashboard, monitoring
from claystream_monitor.bootstrap import build_deps, close_deps, limit_native_threads, prepare_storage
from claystream_monitor.config import MonitorSettings


def create_app(settings: MonitorSettings | None = None) -> FastAPI:
    settings = settings or load_settings(MonitorSettings)

    async def start(app: FastAPI) -> None:
        limit_native_threads(settings.native_threads)
        app.state.deps = build_deps(settings)
        await prepare_storage(app.state.deps)
        await app.state.deps.kafka.start()

    async def stop(app: FastAPI) -> None:
        await close_deps(app.state.deps)

    app = create_service_app(settings, title="Claystream monitor", start=start, stop=stop)
    app.include_router(monitoring.router)
    dashboard.install(app)
    return app
