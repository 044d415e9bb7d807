"""Annotate service: create_app + lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from claystream_common.logs import setup_logging
from claystream_common.ports import EventPublisher
from claystream_common.runtime import standard_checks
from claystream_common.service_app import install_operations
from claystream_common.settings import load_settings
from claystream_common.telemetry import setup_telemetry
from fastapi import FastAPI

from claystream_annotate import web
from claystream_annotate.api.errors import install_error_handlers
from claystream_annotate.api.routes import auth, datasets, export, metrics, records, responses, workspaces
from claystream_annotate.bootstrap import build_deps, close_deps, prepare_owner, prepare_storage
from claystream_annotate.config import AnnotateSettings
from claystream_annotate.web.routes import router as web_router


def create_app(settings: AnnotateSettings | None = None, *, publisher: EventPublisher | None = None) -> FastAPI:
    """The annotate app.  ``publisher`` replaces Kafka for the outbox relay (tests)."""
    settings = settings or load_settings(AnnotateSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging(settings.log_level, json_lines=settings.log_json)
        setup_telemetry(settings.service_name, otlp_endpoint=settings.otlp_endpoint)
        deps = build_deps(settings, publisher=publisher)
        app.state.deps = deps
        await prepare_storage(deps)
        await prepare_owner(deps)
        await deps.kafka.start()
        if settings.outbox_enabled:
            await deps.relay.start()
        try:
            yield
        finally:
            await close_deps(deps)

    app = FastAPI(title="Claystream annotate", version="0.1.0", lifespan=lifespan)
    install_operations(
        app,
        service=settings.service_name,
        checks=lambda: standard_checks(kafka=app.state.deps.kafka, mongo=app.state.deps.mongo, redis=app.state.deps.redis),
    )
    install_error_handlers(app)
    for module in (auth, workspaces, datasets, records, responses, export, metrics):
        app.include_router(module.router)
    app.include_router(web_router)
    mount_web = getattr(web, "mount_web", None)
    if mount_web is not None:
        mount_web(app)
    return app
