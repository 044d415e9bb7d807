"""Ingest service: create_app + lifespan."""

from __future__ import annotations

from collections.abc import Callable

from claystream_common.service_app import create_service_app
from claystream_common.settings import load_settings
from fastapi import FastAPI

from claystream_ingest.api.errors import install_error_handlers
from claystream_ingest.api.openapi import install_openapi_models
from claystream_ingest.api.routes import limits, me, production, records
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

    async def start(app: FastAPI) -> None:
        app.state.deps = deps_builder(settings)
        await start_deps(app.state.deps)

    async def stop(app: FastAPI) -> None:
        await close_deps(app.state.deps)

    app = create_service_app(settings, title="Claystream ingest", description=DESCRIPTION, start=start, stop=stop)
    install_error_handlers(app)
    for module in (records, production, me, limits):
        app.include_router(module.router)
    install_openapi_models(app)
    return app
