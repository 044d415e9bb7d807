"""End-to-end helpers: the services in-process (one event loop, ASGI transport) against the embedded stack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from claystream_common.settings import load_settings
from claystream_devstack.pytest_plugin import service_env

T = TypeVar("T")
SERVICE_TOKEN = "e2e-service-token-0123456789abcdef"


def settings_for(cls: type[T], stack: Any, name: str, db: str, **extra: str) -> T:
    """Settings of one service for this test: the stack's servers, its own database and consumer group."""
    prefix = f"CLAYSTREAM_{name.upper()}_"
    env = service_env(stack, prefix, db, service_token=SERVICE_TOKEN, kafka_consumer_group=f"{name}-{db}", **extra)
    return load_settings(cls, **{key.removeprefix(prefix).lower(): value for key, value in env.items()})  # type: ignore[arg-type]


@dataclass
class InProcess:
    app: Any
    client: httpx.AsyncClient


@asynccontextmanager
async def in_process(app: Any, name: str, *, workspace: str, start_timeout_s: float = 60) -> AsyncIterator[InProcess]:
    """Run ``app``'s lifespan in this event loop and talk to it through ``httpx.ASGITransport``."""
    async with app.router.lifespan_context(app):
        runtime = app.state.deps.kafka
        await asyncio.wait_for(runtime.started.wait(), start_timeout_s)
        headers = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Claystream-Workspace": workspace}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}",
                                     headers=headers, timeout=30) as client:
            yield InProcess(app, client)


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def three_services(stack: Any, db: str, workspace: str, models_dir: Path, *, finetuner: Any | None = None,
                         **trainer_settings: str) -> AsyncIterator[dict[str, InProcess]]:
    """ingest, annotate and trainer (tiny hashing embedder) in-process, each with its own consumer group.
    ``finetuner``: a fine-tuner port for the trainer (enables fine-tunes); ``trainer_settings`` override its settings."""
    from claystream_annotate.config import AnnotateSettings
    from claystream_annotate.main import create_app as annotate_app
    from claystream_ingest.config import IngestSettings
    from claystream_ingest.main import create_app as ingest_app
    from claystream_trainer.bootstrap import build_deps
    from claystream_trainer.config import TrainerSettings
    from claystream_trainer.main import create_app as trainer_app

    apps = {
        "annotate": annotate_app(settings_for(AnnotateSettings, stack, "annotate", db, outbox_poll_s="0.1")),
        "ingest": ingest_app(settings_for(IngestSettings, stack, "ingest", db)),
        "trainer": trainer_app(settings_for(TrainerSettings, stack, "trainer", db, **{
            "embedder": "hashing", "debounce_s": "0.3", "champion_cache_s": "0", "embed_flush_s": "0.1",
            "finetune_enabled": "true" if finetuner is not None else "false", "models_dir": str(models_dir),
            **trainer_settings}), **({"deps_factory": lambda s: build_deps(s, finetuner=finetuner)} if finetuner else {})),
    }
    async with AsyncExitStack() as stack_of_apps:
        running = {name: await stack_of_apps.enter_async_context(in_process(app, name, workspace=workspace))
                   for name, app in apps.items()}
        yield running
