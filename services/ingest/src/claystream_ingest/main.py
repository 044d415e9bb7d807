"""Ingest service: create_app + lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from claystream_common.logs import setup_logging
from claystream_common.runtime import standard_checks
from claystream_common.service_app import install_operations
from claystream_common.settings import load_settings
from claystream_common.telemetry import setup_telemetry
from fastapi import FastAPI

from claystream_ingest.api.errors import install_error_handlers
from claystream_ingest.api.openapi import install_openapi_models
from claystream_ingest.api.routes import feedback, me, predictions, records
from claystream_ingest.bootstrap import Deps, build_deps, close_deps, start_deps
from claystream_ingest.config import IngestSettings

DESCRIPTION = """Everything enters Claystream here: records for annotation, production predictions and feedback.

Authenticate with `X-API-Key: cs_<id>_<secret>` (the key's workspace is the target), or, between services,
`Authorization: Bearer <service token>` plus `X-Claystream-Workspace`. Replies are 202 only after Kafka
acknowledged every event. Errors: 401 unknown key, 403 key not allowed, 404 unknown dataset, 413 body over the
limit, 422 invalid items (all listed by index, field and reason), 429 rate limited (see Retry-After),
503 Kafka unavailable (nothing accepted; retry)."""


def create_app(
    settings: IngestSettings | None = None, *, deps_builder: Callable[[IngestSettings], Deps] = build_deps
) -> FastAPI:
    settings = settings or load_settings(IngestSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging(settings.log_level, json_lines=settings.log_json)
        setup_telemetry(settings.service_name, otlp_endpoint=settings.otlp_endpoint)
        deps = deps_builder(settings)
        app.state.deps = deps
        await start_deps(deps)
        try:
            yield
        finally:
            await close_deps(deps)

    app = FastAPI(title="Claystream ingest", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_operations(
        app,
        service=settings.service_name,
        checks=lambda: standard_checks(
            kafka=app.state.deps.kafka, mongo=app.state.deps.mongo, redis=app.state.deps.redis
        ),
    )
    install_error_handlers(app)
    for module in (records, predictions, feedback, me):
        app.include_router(module.router)
    install_openapi_models(app)
    return app
