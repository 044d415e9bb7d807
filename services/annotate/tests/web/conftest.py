"""An in-process annotate app on the embedded stack (Kafka replaced by a recording publisher
for the outbox), an httpx client, and a signed-in owner."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from claystream_annotate.main import create_app
from claystream_common.ports import RecordingPublisher


def _load_seed() -> Any:
    name = "claystream_annotate_web_seed"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("seed.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


seed = _load_seed()


class WebApp:
    def __init__(self, app: Any, publisher: RecordingPublisher) -> None:
        self.app = app
        self.publisher = publisher

    @property
    def deps(self) -> Any:
        return self.app.state.deps

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://annotate.test", follow_redirects=False)


@pytest.fixture(scope="session")
async def web_app(embedded_stack: Any) -> AsyncIterator[WebApp]:
    import uuid

    settings = seed.settings_for(embedded_stack, f"web{uuid.uuid4().hex[:8]}", consumers_enabled="false", outbox_poll_s="0.1")
    publisher = RecordingPublisher()
    app = create_app(settings, publisher=publisher)
    async with app.router.lifespan_context(app):
        yield WebApp(app, publisher)


@pytest.fixture
async def owner_client(web_app: WebApp) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with web_app.client() as client:
        csrf = await seed.sign_in(client, *seed.OWNER)
        yield client, csrf
