"""Acceptance: sign in, label 10 IMDb reviews with the keyboard only, see the progress bar move
and the response events on the ``responses`` topic; a screenshot goes to test-artifacts/."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from claystream_common.topics import Topic
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

seed = sys.modules["claystream_annotate_web_seed"]
pytestmark = pytest.mark.browser


async def record_id(page) -> str:
    return await page.get_attribute("#record", "data-record-id")


async def submitted_events(bootstrap: str, dataset: str, expected: int, timeout_s: float = 20.0) -> list[dict]:
    consumer = AIOKafkaConsumer(
        Topic.RESPONSES.value, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
        group_id=f"browser-test-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    found: list[dict] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    event = json.loads(message.value)
                    if event.get("dataset") == dataset and event.get("type") == "response.submitted":
                        found.append(event)
    finally:
        await consumer.stop()
    return found


async def test_label_ten_imdb_reviews_with_the_keyboard_only(live_server, store, browser) -> None:
    name = f"imdb{uuid.uuid4().hex[:8]}"
    texts = seed.imdb_texts(12)
    await seed.seed_dataset(store, name, texts, guidelines="Is the review **positive** or **negative**?")
    page = await browser.new_page(viewport={"width": 1360, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    posts: list[str] = []
    page.on("request", lambda request: posts.append(f"{request.method} {request.url[-50:]}"))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    await page.goto(f"{live_server.url}/login?next=/datasets/default/{name}")
    await page.keyboard.type(seed.OWNER[0])  # the username field has autofocus
    await page.keyboard.press("Tab")
    await page.keyboard.type(seed.OWNER[1])
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#record[data-record-id]", timeout=60_000)
    assert await page.get_attribute("#progress-bar progress", "value") == "0"

    # Enter without a label: the questions come back with the reason, the record stays
    await ready(page)
    first = await record_id(page)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#answer-error")
    assert "required to submit" in await page.text_content("#answer-error")
    assert await record_id(page) == first

    seen: list[str] = []
    try:
        await label_ten(page, seen)
    except (AssertionError, PlaywrightTimeoutError):
        await page.screenshot(path=str(seed.artifact("annotate-keyboard-failure.png")), full_page=True)
        state = await page.evaluate(
            "() => [...document.querySelectorAll('.htmx-request, [data-hotkey-busy]')].map(e => e.id + ':' + e.className).join(' | ')"
        )
        raise AssertionError(f"labelling failed after {len(seen)}; busy: {state}; browser said: {problems}; {posts[-8:]}") from None
    # K goes back to the last answered record (answer shown), J returns
    await ready(page)
    newest = await record_id(page)
    await page.keyboard.press("k")
    await page.wait_for_function("id => document.querySelector('#record').dataset.recordId === id", arg=seen[-1])
    assert (await page.text_content("#my-status")).strip() == "your answer: submitted"
    await ready(page)
    await page.keyboard.press("j")
    await page.wait_for_function("id => document.querySelector('#record').dataset.recordId === id", arg=newest)

    await page.wait_for_function("() => document.querySelector('#progress-bar progress').value >= 10", timeout=30_000)
    await page.screenshot(path=str(seed.artifact("annotate-keyboard.png")), full_page=True)
    assert not [p for p in problems if "status of 422" not in p], problems  # the 422 is the refused empty submit

    events = await submitted_events(live_server.settings.kafka_bootstrap_servers, name, expected=10)
    assert sorted({e["data"]["record_id"] for e in events}) == sorted(seen)
    labels = {e["data"]["record_id"]: e["data"]["values"]["sentiment"] for e in events}
    assert [labels[r] for r in seen] == ["negative" if i % 3 == 0 else "positive" for i in range(10)]
    await page.close()


async def ready(page) -> None:
    """Wait until the previous answer has settled (claystream.js drops keys until then)."""
    await page.wait_for_function(
        "() => document.readyState === 'complete' && window.claystreamIdle && window.claystreamIdle()", timeout=30_000
    )


async def label_ten(page, seen: list[str]) -> None:
    for index in range(10):
        await ready(page)
        current = await record_id(page)
        assert current not in seen
        seen.append(current)
        await page.keyboard.press("2" if index % 3 else "1")
        await page.keyboard.press("Enter")
        await page.wait_for_function(
            "previous => document.querySelector('#record').dataset.recordId !== previous", arg=current, timeout=30_000
        )

