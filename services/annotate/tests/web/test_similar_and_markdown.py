"""The annotation and bulk views: "find similar" (htmx) and Markdown fields rendered sanitised."""

from __future__ import annotations

import re
import sys
import uuid
from html.parser import HTMLParser
from typing import Any

from claystream_annotate.consumers.handlers import on_records_ingested
from claystream_annotate.services.datasets import create_dataset
from claystream_common.datasets import record_id_for
from claystream_common.events import RecordIngested, new_event

seed = sys.modules["claystream_annotate_web_seed"]  # loaded by conftest.py
HX = {"HX-Request": "true"}
VECTORS = {"r0": [1.0, 0.0, 0.0], "r1": [0.9, 0.1, 0.0], "r2": [0.0, 1.0, 0.0], "r3": [0.8, 0.0, 0.2],
           "r4": [0.0, 0.0, 1.0], "r5": [0.7, 0.3, 0.0]}


async def seed_records(deps: Any, *, texts: dict[str, str], vectors: dict[str, list[float]] | None = None,
                       markdown: bool = False, metadata: dict[str, dict[str, Any]] | None = None) -> tuple[str, dict[str, str]]:
    name = f"d{uuid.uuid4().hex[:10]}"
    await create_dataset({
        "name": name, "fields": [{"name": "text", "title": "Review", "use_markdown": markdown}],
        "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
        "metadata_properties": [{"name": "source", "type": "terms"}],
        "vectors": [{"name": "emb", "dimensions": 3}] if vectors else [],
    }, actor=seed.ROOT_OWNER, workspace=seed.WORKSPACE, datasets=deps.datasets, counters=deps.counters, queue=deps.queue)
    ids = {key: record_id_for(seed.WORKSPACE, name, key) for key in texts}
    events = [new_event("record.ingested", RecordIngested(
        record_id=ids[key], external_id=key, fields={"text": text}, metadata=(metadata or {}).get(key, {}),
        vectors={"emb": vectors[key]} if vectors else {}), dataset=name, workspace=seed.WORKSPACE) for key, text in texts.items()]
    await on_records_ingested(events, records=deps.records, datasets=deps.datasets, queue=deps.queue, counters=deps.counters)
    return name, ids


def order_of(html: str, ids: dict[str, str]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[m] for m in re.findall(r'data-record-id="([^"]+)"', html) if m in by_id]


async def test_find_similar_in_the_annotation_view_lists_the_nearest_records(web_app, owner_client) -> None:
    client, _ = owner_client
    name, ids = await seed_records(web_app.deps, texts={k: f"text of {k}" for k in VECTORS}, vectors=VECTORS)
    page = await client.get(f"/datasets/default/{name}/records/{ids['r0']}")
    assert page.status_code == 200
    button = re.search(r'<button[^>]*id="find-similar"[^>]*>', page.text, re.DOTALL).group(0)
    assert f'hx-get="/datasets/default/{name}/records/{ids["r0"]}/similar?vector_field=emb"' in button
    assert 'hx-target="#similar-records"' in button and 'id="similar-records"' in page.text
    fragment = await client.get(f"/datasets/default/{name}/records/{ids['r0']}/similar", params={"vector_field": "emb"}, headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert order_of(fragment.text, ids) == ["r1", "r3", "r5", "r2", "r4"]  # r0 itself left out, best first
    assert f"/records?similar_to={ids['r0']}&amp;vector_field=emb" in fragment.text


async def test_the_bulk_view_ranks_by_similarity_with_the_filters_and_offers_find_similar_per_row(web_app, owner_client) -> None:
    client, _ = owner_client
    sources = {"r1": "web", "r2": "web", "r3": "app", "r4": "web", "r5": "app", "r0": "web"}
    name, ids = await seed_records(web_app.deps, texts={k: f"text of {k}" for k in VECTORS}, vectors=VECTORS,
                                   metadata={k: {"source": v} for k, v in sources.items()})
    base = f"/datasets/default/{name}/records"
    plain = await client.get(base)
    assert f'href="{base}?similar_to={ids["r2"]}&amp;vector_field=emb"' in plain.text and 'hx-boost="true"' in plain.text
    ranked = await client.get(base, params={"similar_to": ids["r0"]})
    assert ranked.status_code == 200 and 'id="similar-banner"' in ranked.text
    assert order_of(ranked.text, ids) == ["r1", "r3", "r5", "r2", "r4"]
    assert 'name="similar_to"' in ranked.text  # the filter form keeps the ranking
    filtered = await client.get(base, params={"similar_to": ids["r0"], "vector_field": "emb", "meta.source": "web"},
                                headers={**HX, "HX-Target": "bulk-results"})
    assert order_of(filtered.text, ids) == ["r1", "r2", "r4"]
    unknown = await client.get(base, params={"similar_to": ids["r0"], "vector_field": "nope"}, headers=HX)
    assert unknown.status_code == 422 and "unknown vector field" in unknown.text


async def test_a_dataset_without_vectors_or_trainer_shows_no_find_similar(web_app, owner_client) -> None:
    client, _ = owner_client
    name, ids = await seed_records(web_app.deps, texts={"a": "plain"})
    page = await client.get(f"/datasets/default/{name}/records/{ids['a']}")
    assert page.status_code == 200 and 'id="find-similar"' not in page.text


PAYLOADS = ("<script>window.__pwned = 1</script>", '<img src=x onerror="window.__pwned = 2">',
            "[click](javascript:alert(3))", '<a href="javascript:alert(4)" onclick="alert(5)">x</a>')


class Elements(HTMLParser):
    """Every element and attribute the browser would build from a fragment."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str) -> None:
    elements = Elements(html).tags
    assert not [t for t, _ in elements if t in ("script", "img", "iframe", "svg", "object", "embed")], elements
    assert not [(t, a) for t, attrs in elements for a in attrs if a.startswith("on")], elements
    assert not [attrs for _, attrs in elements if (attrs.get("href") or "").strip().lower().startswith("javascript")]


async def test_markdown_fields_render_formatting_and_leave_hostile_html_inert(web_app, owner_client) -> None:
    client, _ = owner_client
    text = "# Verdict\n\n**Great** film with *style*:\n\n- one\n- two\n\n" + "\n\n".join(PAYLOADS)
    name, ids = await seed_records(web_app.deps, texts={"m": text}, markdown=True)
    for url in (f"/datasets/default/{name}/records/{ids['m']}", f"/datasets/default/{name}/records"):
        page = await client.get(url)
        assert page.status_code == 200
        shown = re.search(r'<div class="(?:record-text|cell-text) prose markdown"[^>]*>(.*?)</div>', page.text, re.DOTALL).group(1)
        assert "<strong>Great</strong>" in shown and "<li>one</li>" in shown
        assert_inert(shown)
        assert "&lt;script&gt;" in shown  # raw HTML stays visible as text
    assert "<h1>Verdict</h1>" in (await client.get(f"/datasets/default/{name}/records/{ids['m']}")).text


async def test_fields_without_use_markdown_stay_plain_text(web_app, owner_client) -> None:
    client, _ = owner_client
    name, ids = await seed_records(web_app.deps, texts={"p": "**not bold** <b>x</b>"})
    page = await client.get(f"/datasets/default/{name}/records/{ids['p']}")
    body = re.search(r'<div class="record-text" data-field="text">(.*?)</div>', page.text, re.DOTALL).group(1)
    assert body == "**not bold** &lt;b&gt;x&lt;/b&gt;"
