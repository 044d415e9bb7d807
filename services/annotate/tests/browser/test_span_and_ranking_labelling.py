"""Acceptance: a span dataset labelled in Chromium with the keyboard (and the mouse), and a ranking
dataset re-ordered with the keyboard; the stored answers are what was marked.  No fixed sleeps:
every step waits for the page state it needs."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

seed = sys.modules["claystream_annotate_web_seed"]
pytestmark = pytest.mark.browser

SPAN_TEXTS = ["Ada met Bob in Paris", "Mary Ann lives in New York", "Zoë visited Łódź"]
SPAN_QUESTION = {"name": "entities", "title": "Entities", "type": "span", "labels": ["PER", "LOC"], "field": "text"}
RANKING_QUESTION = {"name": "order", "title": "Best first", "type": "ranking", "labels": ["plot", "acting", "music"]}


async def signed_in_page(browser: Any, live_server: Any, name: str, problems: list[str]) -> Any:
    page = await browser.new_page(viewport={"width": 1360, "height": 900})
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    await page.goto(f"{live_server.url}/login?next=/datasets/default/{name}")
    await page.keyboard.type(seed.OWNER[0])
    await page.keyboard.press("Tab")
    await page.keyboard.type(seed.OWNER[1])
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#record[data-record-id]", timeout=60_000)
    return page


async def ready(page: Any) -> None:
    await page.wait_for_function(
        "() => document.readyState === 'complete' && window.claystreamIdle && window.claystreamIdle()", timeout=30_000
    )


async def spans_are(page: Any, expected: list[tuple[int, int, str]]) -> None:
    """Wait until the hidden answer holds exactly these spans."""
    wanted = json.dumps([{"start": s, "end": e, "label": label} for s, e, label in expected])
    await page.wait_for_function(
        "wanted => { const input = document.querySelector('[data-span-value]');"
        " return input && JSON.stringify(JSON.parse(input.value)) === JSON.stringify(JSON.parse(wanted)); }",
        arg=wanted, timeout=10_000,
    )


async def submit(page: Any) -> None:
    current = await page.get_attribute("#record", "data-record-id")
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "previous => document.querySelector('#record').dataset.recordId !== previous", arg=current, timeout=30_000
    )
    await ready(page)


async def drag_select(page: Any, start: int, end: int) -> None:
    """Select code points [start, end) of the span text with the mouse."""
    box = await page.evaluate(
        """([start, end]) => {
            const segments = [...document.querySelectorAll('[data-span-text] [data-s]')];
            const at = (offset, isEnd) => {
              const seg = segments.find(s => +s.dataset.s <= offset && (isEnd ? offset <= +s.dataset.e : offset < +s.dataset.e));
              const node = seg.firstChild, units = [...node.textContent].slice(0, offset - +seg.dataset.s).join('').length;
              const range = document.createRange();
              range.setStart(node, isEnd ? units - 1 : units); range.setEnd(node, isEnd ? units : units + 1);
              const r = range.getBoundingClientRect();
              return isEnd ? [r.right - 1, r.top + r.height / 2] : [r.left + 1, r.top + r.height / 2];
            };
            return [at(start, false), at(end, true)];
        }""",
        [start, end],
    )
    (x1, y1), (x2, y2) = box
    await page.mouse.move(x1, y1)
    await page.mouse.down()
    await page.mouse.move(x2, y2, steps=5)
    await page.mouse.up()
    await page.wait_for_selector("[data-span-text] .span-selected")


async def stored_values(store: Any, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    return {doc.record_id: doc.values for doc in await store.responses.for_records(record_ids) if doc.status == "submitted"}


async def test_label_spans_with_the_keyboard(live_server, store, browser) -> None:
    name = f"ner{uuid.uuid4().hex[:8]}"
    _, ids = await seed.seed_dataset(
        store, name, SPAN_TEXTS, questions=[SPAN_QUESTION], guidelines="Mark people and places.",
        record_suggestions=[[{"question": "entities", "value": [{"start": 0, "end": 3, "label": "PER"}], "score": 0.8}]],
    )
    problems: list[str] = []
    page = await signed_in_page(browser, live_server, name, problems)
    try:
        # record 1: the suggestion is pre-filled as a highlighted span; mark Bob and Paris by word
        await ready(page)
        assert await page.text_content("[data-span-text] .span-mark") == "Ada"
        await page.focus("[data-span-text]")
        for _ in range(3):
            await page.keyboard.press("ArrowRight")  # Ada → met → Bob
        await page.keyboard.press("1")
        await spans_are(page, [(0, 3, "PER"), (8, 11, "PER")])
        await page.keyboard.press("ArrowRight")
        await page.keyboard.press("ArrowRight")  # in → Paris
        await page.keyboard.press("1")  # wrong label first ...
        await spans_are(page, [(0, 3, "PER"), (8, 11, "PER"), (15, 20, "PER")])
        await page.keyboard.press("Backspace")  # ... removed (and the record is not discarded)
        await spans_are(page, [(0, 3, "PER"), (8, 11, "PER")])
        await page.keyboard.press("2")
        await spans_are(page, [(0, 3, "PER"), (8, 11, "PER"), (15, 20, "LOC")])
        assert await page.locator("[data-span-list] li").count() == 3
        await submit(page)

        # record 2: Shift extends the selection over several words
        await page.focus("[data-span-text]")
        await page.keyboard.press("ArrowRight")
        await page.keyboard.press("Shift+ArrowRight")  # Mary Ann
        await page.keyboard.press("1")
        for _ in range(3):
            await page.keyboard.press("ArrowRight")  # lives → in → New
        await page.keyboard.press("Shift+ArrowRight")  # New York
        await page.keyboard.press("2")
        await spans_are(page, [(0, 8, "PER"), (18, 26, "LOC")])
        await submit(page)

        # record 3: the mouse selects, a digit labels, a click on the mark removes; offsets in code points
        await drag_select(page, 12, 16)  # Łódź
        await page.keyboard.press("2")
        await spans_are(page, [(12, 16, "LOC")])
        await drag_select(page, 0, 3)  # Zoë
        await page.keyboard.press("1")
        await spans_are(page, [(0, 3, "PER"), (12, 16, "LOC")])
        await page.click("[data-span-text] .span-mark[data-spans='0']")
        await spans_are(page, [(12, 16, "LOC")])
        await drag_select(page, 0, 3)
        await page.click("[data-span-label='PER']")
        await spans_are(page, [(0, 3, "PER"), (12, 16, "LOC")])
        await submit(page)
    except (AssertionError, PlaywrightTimeoutError) as error:
        await page.screenshot(path=str(seed.artifact("annotate-spans-failure.png")), full_page=True)
        raise AssertionError(f"span labelling failed ({error}); browser said: {problems}") from error
    await page.screenshot(path=str(seed.artifact("annotate-spans.png")), full_page=True)
    values = await stored_values(store, ids)
    assert values[ids[0]]["entities"] == [{"start": 0, "end": 3, "label": "PER"}, {"start": 8, "end": 11, "label": "PER"},
                                          {"start": 15, "end": 20, "label": "LOC"}]
    assert [SPAN_TEXTS[1][s["start"]:s["end"]] for s in values[ids[1]]["entities"]] == ["Mary Ann", "New York"]
    assert [SPAN_TEXTS[2][s["start"]:s["end"]] for s in values[ids[2]]["entities"]] == ["Zoë", "Łódź"]
    assert not problems, problems
    await page.close()


async def test_rank_options_with_the_keyboard(live_server, store, browser) -> None:
    name = f"rank{uuid.uuid4().hex[:8]}"
    _, ids = await seed.seed_dataset(store, name, seed.imdb_texts(3), questions=[RANKING_QUESTION], guidelines="Order what the review praises.")
    problems: list[str] = []
    page = await signed_in_page(browser, live_server, name, problems)
    order = "() => [...document.querySelectorAll('[data-ranking-inputs] input')].map(i => i.value).join(',')"
    try:
        await ready(page)
        await page.keyboard.press("Enter")  # untouched: not an answer yet
        await page.wait_for_selector("#answer-error")
        assert "required to submit" in await page.text_content("#answer-error")
        await ready(page)
        await page.focus("li[data-option='plot']")
        await page.keyboard.press("Shift+ArrowDown")  # plot moves below acting
        await page.wait_for_function(f"() => ({order})() === 'acting,plot,music'")
        await page.keyboard.press("ArrowDown")  # focus music
        await page.keyboard.press("1")  # music to the top
        await page.wait_for_function(f"() => ({order})() === 'music,acting,plot'")
        await submit(page)

        await page.focus("li[data-option='acting']")
        await page.keyboard.press(" ")  # accept the shown order
        await page.wait_for_function(f"() => ({order})() === 'plot,acting,music'")
        await submit(page)
    except (AssertionError, PlaywrightTimeoutError) as error:
        await page.screenshot(path=str(seed.artifact("annotate-ranking-failure.png")), full_page=True)
        raise AssertionError(f"ranking failed ({error}); browser said: {problems}") from error
    await page.screenshot(path=str(seed.artifact("annotate-ranking.png")), full_page=True)
    values = await stored_values(store, ids)
    assert values[ids[0]]["order"] == ["music", "acting", "plot"]
    assert values[ids[1]]["order"] == ["plot", "acting", "music"]
    assert not [p for p in problems if "status of 422" not in p], problems
    await page.close()
