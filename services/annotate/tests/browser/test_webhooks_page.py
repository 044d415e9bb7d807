"""The webhooks pages in Chromium: create a subscription, see the secret once, send a test event through
htmx (CSRF header from claystream.js) and watch the delivery log turn 'delivered' — no script error and
no CSP violation on the console."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from claystream_devstack.webhook_receiver import Receiver

seed = sys.modules["claystream_annotate_web_seed"]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hooks_server(embedded_stack: Any) -> Iterator[str]:
    import uvicorn
    from claystream_annotate.main import create_app
    from claystream_devstack.processes import free_port

    settings = seed.settings_for(embedded_stack, f"brh{uuid.uuid4().hex[:8]}", consumers_enabled="false",
                                 webhook_allow_private_targets="true", webhook_poll_s="0.1")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="annotate-hooks", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "annotate did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def test_create_and_send_a_test_event_from_the_browser(hooks_server: str, browser) -> None:  # type: ignore[no-untyped-def]
    receiver = await Receiver().start()
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning") else None)
    try:
        await page.goto(f"{hooks_server}/login")
        await page.fill("#username", seed.OWNER[0])
        await page.fill("#password", seed.OWNER[1])
        await page.click("#login-submit")
        await page.wait_for_url(f"{hooks_server}/")
        await page.click("nav >> text=Webhooks")
        await page.fill("#webhook-url", receiver.url)
        await page.check("input[name='event_types'][value='drift.detected']")
        await page.check("input[name='event_types'][value='training.failed']")
        await page.click("#create-webhook button[type='submit']")
        secret = await page.text_content("#webhook-secret")
        assert secret and secret.startswith("whsec_")
        await page.click(f"text={receiver.url}")
        await page.click("#send-test")
        await page.wait_for_selector("#webhook-deliveries .badge-success", timeout=20_000)  # refreshed by htmx
        await receiver.wait_for(1)
        await page.click("#delivery-1 a")
        await page.wait_for_selector("#attempts-1 table")
        assert "200" in (await page.text_content("#attempts-1"))
        await page.screenshot(path=str(seed.artifact("page-webhook.png")), full_page=True)
        assert not [p for p in problems if "favicon" not in p], problems
    finally:
        await page.close()
        await receiver.stop()
