"""Every page renders in Chromium without a script error or a CSP violation (Chromium reports
both on the console); screenshots go to test-artifacts/ for a human look."""

from __future__ import annotations

import sys
import uuid

import pytest

seed = sys.modules["claystream_annotate_web_seed"]
pytestmark = pytest.mark.browser


async def test_pages_render_cleanly(live_server, store, browser) -> None:
    name = f"look{uuid.uuid4().hex[:6]}"
    await seed.seed_dataset(
        store, name, seed.imdb_texts(8),
        metadata=[{"source": "imdb", "length": 100 + i} for i in range(8)],
        metadata_properties=[{"name": "source", "type": "terms", "values": ["imdb", "rt"]}, {"name": "length", "type": "integer"}],
        guidelines="## How to label\n\n- **positive**: the reviewer liked the film\n- **negative**: they did not",
        suggestions=[("negative", 0.93), ("positive", 0.61)] * 4,
    )
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning") else None)

    await page.goto(f"{live_server.url}/login")
    await page.screenshot(path=str(seed.artifact("page-login.png")))
    await page.fill("#username", seed.OWNER[0])
    await page.fill("#password", seed.OWNER[1])
    await page.click("#login-submit")
    await page.wait_for_url(f"{live_server.url}/")
    base = f"{live_server.url}/datasets/default/{name}"
    for label, url in [
        ("datasets", f"{live_server.url}/"),
        ("annotate", base),
        ("bulk", f"{base}/records"),
        ("metrics", f"{base}/metrics"),
        ("settings", f"{base}/settings"),
        ("team", f"{live_server.url}/team"),
        ("quarantine", f"{live_server.url}/admin/quarantine"),
        ("new-dataset", f"{live_server.url}/datasets/new"),
        ("account", f"{live_server.url}/account"),
    ]:
        response = await page.goto(url)
        assert response.status == 200, (label, response.status)
        await page.screenshot(path=str(seed.artifact(f"page-{label}.png")), full_page=True)
    await page.emulate_media(color_scheme="dark")
    await page.goto(base)
    await page.screenshot(path=str(seed.artifact("page-annotate-dark.png")), full_page=True)
    await page.emulate_media(color_scheme="light")
    # the bulk view filters through htmx, selecting shows the count, "all matching" asks first
    await page.goto(f"{base}/records")
    await page.fill("#f-q", "the")
    await page.wait_for_function("() => new URL(location.href).searchParams.get('q') === 'the'")
    await page.check("[data-select-all='record_id']")
    assert int(await page.text_content("[data-selected-count='record_id']")) == await page.locator("input[name='record_id']").count()
    await page.click("#bulk-apply-matching")
    await page.wait_for_selector("#confirm-count")
    await page.screenshot(path=str(seed.artifact("page-bulk-confirm.png")), full_page=True)
    matched = int(await page.text_content("#confirm-count"))
    await page.click("#bulk-confirm-yes")
    await page.wait_for_selector("#bulk-result")
    await page.goto(f"{base}/metrics")
    assert int(await page.text_content("#annotator-table tbody td.num")) == matched
    await page.screenshot(path=str(seed.artifact("page-metrics-labelled.png")), full_page=True)
    # a phone's width: the top bar wrapped nowhere and every page scrolled sideways (sign-out off-screen at 375px)
    await page.set_viewport_size({"width": 375, "height": 800})
    for url in (f"{live_server.url}/", base, f"{base}/records", f"{live_server.url}/team"):
        await page.goto(url)
        widths = await page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (url, widths)
        assert await page.locator("form[action='/logout'] button, .topbar-actions button").first.is_visible()
    await page.screenshot(path=str(seed.artifact("page-annotate-375.png")), full_page=True)
    assert not [p for p in problems if "favicon" not in p], problems
    await page.close()
