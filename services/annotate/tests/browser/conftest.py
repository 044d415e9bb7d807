"""A live annotate server (uvicorn in a thread, real Kafka) and headless Debian Chromium.

Browser tests are marked ``browser`` and skip cleanly when ``/usr/bin/chromium`` (Debian's
``chromium`` package) or the ``playwright`` package is missing.  We never run
``playwright install``: the system Chromium is launched by path.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _load_seed() -> Any:
    name = "claystream_annotate_web_seed"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "web" / "seed.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


seed = _load_seed()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = "Debian chromium is not installed (/usr/bin/chromium): apt-get install -y chromium"
    elif importlib.util.find_spec("playwright") is None:
        reason = "the playwright package is not installed"
    for item in items:
        if "/tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


class LiveServer:
    def __init__(self, settings: Any, url: str) -> None:
        self.settings = settings
        self.url = url


@pytest.fixture(scope="session")
def live_server(embedded_stack: Any) -> Iterator[LiveServer]:
    import uvicorn
    from claystream_annotate.main import create_app
    from claystream_devstack.processes import free_port

    settings = seed.settings_for(embedded_stack, f"br{uuid.uuid4().hex[:8]}", consumers_enabled="false", outbox_poll_s="0.2")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="annotate-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the annotate server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(settings, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
async def store(live_server: LiveServer) -> AsyncIterator[Any]:
    """Our own Deps on the same Mongo/Redis (the server's clients live on its own event loop)."""
    from claystream_annotate.bootstrap import build_deps, close_deps

    deps = build_deps(live_server.settings)
    try:
        yield deps
    finally:
        await close_deps(deps)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            await instance.close()

