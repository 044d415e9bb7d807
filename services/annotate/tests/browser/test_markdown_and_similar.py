"""In Chromium: a Markdown field renders its formatting with hostile HTML inert, and "Find similar" (htmx)
lists the nearest records and opens them ranked in the bulk view."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest
from claystream_annotate.consumers.handlers import on_records_ingested
from claystream_annotate.services.datasets import create_dataset
from claystream_common.datasets import record_id_for
from claystream_common.events import RecordIngested, new_event

seed = sys.modules["claystream_annotate_web_seed"]
pytestmark = pytest.mark.browser

HOSTILE = ("# Verdict\n\n**Great** film.\n\n<script>window.__pwned = 'script'; alert('script')</script>\n\n"
           "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">\n\n![x](javascript:alert('image'))\n\n"
           "[click me](javascript:window.__pwned='link')")


async def seed_vectors(store: Any, texts: dict[str, tuple[str, list[float]]]) -> tuple[str, dict[str, str]]:
    name = f"md{uuid.uuid4().hex[:8]}"
    await create_dataset({
        "name": name, "fields": [{"name": "text", "title": "Review", "use_markdown": True}],
        "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
        "vectors": [{"name": "emb", "dimensions": 2}],
    }, actor=seed.ROOT_OWNER, workspace=seed.WORKSPACE, datasets=store.datasets, counters=store.counters, queue=store.queue)
    ids = {key: record_id_for(seed.WORKSPACE, name, key) for key in texts}
    events = [new_event("record.ingested", RecordIngested(record_id=ids[k], external_id=k, fields={"text": t},
                                                          vectors={"emb": v}), dataset=name, workspace=seed.WORKSPACE)
              for k, (t, v) in texts.items()]
    await on_records_ingested(events, records=store.records, datasets=store.datasets, queue=store.queue, counters=store.counters)
    return name, ids


async def test_markdown_is_inert_and_find_similar_works_in_the_browser(live_server, store, browser) -> None:
    name, ids = await seed_vectors(store, {"a": (HOSTILE, [1.0, 0.0]), "b": ("**close** one", [0.9, 0.1]),
                                           "c": ("far away", [0.0, 1.0])})
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    await page.goto(f"{live_server.url}/login")
    await page.fill("#username", seed.OWNER[0])
    await page.fill("#password", seed.OWNER[1])
    await page.click("#login-submit")
    await page.wait_for_url(f"{live_server.url}/")

    await page.goto(f"{live_server.url}/datasets/default/{name}/records/{ids['a']}")
    field = page.locator(".record-text.markdown")
    await field.wait_for()
    assert await field.locator("h1").inner_text() == "Verdict" and await field.locator("strong").count() == 1
    assert await field.locator("script, img, iframe, svg").count() == 0
    assert await field.locator("a[href^='javascript']").count() == 0
    assert "<script>" in await field.inner_text()  # shown as text
    for link in await field.locator("a").all():
        await link.click(timeout=2000, no_wait_after=True)

    await page.click("#find-similar")
    await page.wait_for_selector("#similar-records li")
    listed = await page.locator("#similar-records li").evaluate_all("els => els.map(e => e.dataset.recordId)")
    assert listed == [ids["b"], ids["c"]]
    await page.click("#similar-records a.btn")
    await page.wait_for_selector("#similar-banner")
    assert "similar_to=" in page.url
    await page.screenshot(path=str(seed.artifact("annotate-markdown-similar.png")), full_page=True)
    assert await page.evaluate("() => window.__pwned === undefined") and dialogs == []
