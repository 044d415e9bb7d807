"""Acceptance: hostile record text, metadata, guidelines and usernames render inert in Chromium
(no dialog, no script execution, the payloads visible as plain text)."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

import pytest
from claystream_annotate.services.ports import User
from claystream_annotate.services.users import hash_password

seed = sys.modules["claystream_annotate_web_seed"]
pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__pwned = 'script'; alert('script')</script>"
IMG = "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">"
SVG = "<svg onload=\"window.__pwned = 'svg'\"></svg>"
LINK = "[click me](javascript:alert('link'))"


async def test_hostile_content_renders_inert(live_server, store, browser) -> None:
    name = f"xss{uuid.uuid4().hex[:8]}"
    text = f"Before {SCRIPT} middle {IMG} {SVG}<br />after the break"
    guidelines = f"# Rules\n\n{SCRIPT}\n\n{IMG}\n\n{LINK}\n\n<iframe src=\"javascript:alert('frame')\"></iframe>"
    await seed.seed_dataset(store, name, [text], guidelines=guidelines, metadata=[{"source": IMG, "note": SCRIPT}])
    evil = User(
        id=uuid.uuid4().hex, username=f"<img src=x onerror=alert('user')>{uuid.uuid4().hex[:4]}", role="annotator",
        workspaces=[seed.WORKSPACE], password_hash=hash_password("irrelevant-pass"), created_at=datetime.now(UTC),
    )
    await store.users.insert(evil)  # bypasses the username rules on purpose: the page must still escape it

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    await page.goto(f"{live_server.url}/login")
    await page.fill("#username", seed.OWNER[0])
    await page.fill("#password", seed.OWNER[1])
    await page.click("#login-submit")
    await page.wait_for_url(f"{live_server.url}/")

    await page.goto(f"{live_server.url}/datasets/default/{name}")
    await page.wait_for_selector("#record[data-record-id]")
    await page.click("#guidelines summary")
    field = page.locator(".record-text")
    shown = await field.inner_text()
    assert "<script>" in shown and "onerror=" in shown and "after the break" in shown
    assert await field.locator("script, img, svg").count() == 0
    assert await field.locator("br").count() == 1  # only the IMDb-style <br /> became a line break
    guidelines_box = page.locator("#guidelines .prose")
    assert await guidelines_box.locator("script, img, iframe").count() == 0
    assert await guidelines_box.locator("a[href^='javascript']").count() == 0
    badges = await page.locator(".record-meta").inner_text()
    assert "onerror=" in badges and "<script>" in badges
    await page.screenshot(path=str(seed.artifact("annotate-xss.png")), full_page=True)
    assert await page.evaluate("() => window.__pwned === undefined")

    await page.goto(f"{live_server.url}/datasets/default/{name}/records")
    await page.wait_for_selector("#bulk-results")
    assert await page.locator("#bulk-results img, #bulk-results script").count() == 0
    assert await page.evaluate("() => window.__pwned === undefined")

    await page.goto(f"{live_server.url}/team")
    assert "<img src=x onerror=alert('user')>" in await page.locator("section[aria-label='Members'] table").inner_text()
    assert await page.locator("table img").count() == 0

    await page.wait_for_timeout(300)
    assert dialogs == []
    assert await page.evaluate("() => window.__pwned === undefined")
    await page.close()

