"""Annotate service: create_app + lifespan."""

from __future__ import annotations

from claystream_common.datasets import DatasetSpec
from claystream_common.ports import EventPublisher
from claystream_common.service_app import create_service_app
from claystream_common.settings import load_settings
from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from claystream_annotate import web
from claystream_annotate.api.errors import install_error_handlers
from claystream_annotate.api.routes import (
    accounts,
    auth,
    datasets,
    export,
    limits,
    metrics,
    quarantine,
    record_changes,
    records,
    responses,
    similar,
    webhooks,
    workspaces,
)
from claystream_annotate.bootstrap import build_deps, close_deps, prepare_owner, prepare_storage
from claystream_annotate.config import AnnotateSettings
from claystream_annotate.web.routes import router as web_router

LOGIN_BODY_MAX_BYTES = 16 * 1024  # a login form is refused past this before it is parsed


def create_app(settings: AnnotateSettings | None = None, *, publisher: EventPublisher | None = None) -> FastAPI:
    """The annotate app.  ``publisher`` replaces Kafka for the outbox relay (tests)."""
    settings = settings or load_settings(AnnotateSettings)

    async def start(app: FastAPI) -> None:
        # one BLAS thread: the similarity mat-vec is memory-bound; more threads only contend with the event loop
        # (50k × 384: 6 ms on one thread, 20 ms on two on the shared 2-core machine)
        threadpool_limits(limits=1)
        deps = build_deps(settings, publisher=publisher)
        app.state.deps = deps
        await prepare_storage(deps)
        await prepare_owner(deps)
        await deps.kafka.start()
        if settings.outbox_enabled:
            await deps.relay.start()
        deps.vectors.warm([DatasetSpec.from_document(d) for d in await deps.datasets.list(None) if d.get("vectors")])
        if settings.webhooks_enabled:
            await deps.webhooks.start()

    async def stop(app: FastAPI) -> None:
        await close_deps(app.state.deps)

    login_limit = {"/login": LOGIN_BODY_MAX_BYTES, "/api/v1/auth/login": LOGIN_BODY_MAX_BYTES}
    app = create_service_app(settings, title="Claystream annotate", start=start, stop=stop, body_limits=login_limit)
    install_error_handlers(app)
    for module in (auth, accounts, workspaces, datasets, similar, record_changes, records, responses, export, metrics, limits,
                   webhooks, quarantine):
        app.include_router(module.router)
    app.include_router(web_router)
    mount_web = getattr(web, "mount_web", None)
    if mount_web is not None:
        mount_web(app)
    return app
