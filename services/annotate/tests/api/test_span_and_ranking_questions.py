"""Span and ranking answers through annotate's API: stored in the question type's normal form,
refused with 422 naming the record, the question and the span, exported with the covered text,
and measured for agreement (span F1, Kendall's W)."""

from __future__ import annotations

import json

from annotate_testing import BASE, Annotate

SPANS = {
    "name": "people",
    "fields": [{"name": "text"}],
    "questions": [
        {"name": "entities", "type": "span", "labels": ["PER", "LOC"], "field": "text"},
        {"name": "order", "type": "ranking", "labels": ["a", "b", "c"], "required": False},
    ],
}
URL = f"{BASE}/default/datasets/people"
TEXT = "Ada met Bob in Paris"


async def test_spans_are_checked_against_the_record_text(annotate: Annotate) -> None:
    dataset = await annotate.dataset(**SPANS)
    [record] = await annotate.records(dataset, [TEXT])
    annotator = await annotate.member("spans")
    url = f"{URL}/records/{record}/response"
    for spans, reason in [
        ([{"start": 15, "end": 21, "label": "LOC"}], "span 0 (15–21 'LOC'): outside the text"),
        ([{"start": 0, "end": 3, "label": "ORG"}], "span 0 (0–3 'ORG'): unknown label"),
        ([{"start": 0, "end": 7, "label": "PER"}, {"start": 4, "end": 11, "label": "PER"}], "overlaps span 0–7 'PER'"),
    ]:
        refused = await annotator.put(url, json={"status": "submitted", "values": {"entities": spans}})
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["field"] == "values.entities" and f"record {record}" in body["detail"][0]["msg"] and reason in body["detail"][0]["msg"], body
    good = [{"start": 15, "end": 20, "label": "LOC"}, {"start": 0, "end": 3, "label": "PER"}]
    saved = await annotator.put(url, json={"status": "submitted", "values": {"entities": good, "order": ["c", "a", "b"]}})
    assert saved.status_code == 200, saved.text
    assert saved.json()["values"]["entities"] == sorted(good, key=lambda s: s["start"])
    tie = await annotator.put(url, json={"status": "submitted", "values": {"entities": good, "order": ["a", "a", "b", "c"]}})
    assert tie.status_code == 422 and tie.json()["field"] == "values.order" and "ties" in tie.json()["detail"][0]["msg"]

    exported = await annotate.owner.get(f"{URL}/export", params={"format": "jsonl"})
    [row] = [json.loads(line) for line in exported.text.splitlines()]
    spans = row["responses"][0]["values"]["entities"]
    assert [(s["start"], s["end"], s["label"], s["text"]) for s in spans] == [(0, 3, "PER", "Ada"), (15, 20, "LOC", "Paris")]


async def test_span_answers_cannot_be_applied_in_bulk(annotate: Annotate) -> None:
    dataset = await annotate.dataset(**SPANS)
    ids = await annotate.records(dataset, [TEXT, TEXT])
    annotator = await annotate.member("spanbulk")
    answer = await annotator.post(f"{URL}/responses:bulk", json={"record_ids": ids, "values": {"entities": []}})
    assert answer.status_code == 422 and answer.json()["field"] == "values.entities"


async def test_agreement_is_span_f1_and_kendalls_w(annotate: Annotate) -> None:
    dataset = await annotate.dataset(**SPANS)
    [record] = await annotate.records(dataset, [TEXT])
    first, second = await annotate.member("ann1"), await annotate.member("ann2")
    url = f"{URL}/records/{record}/response"
    await first.put(url, json={"status": "submitted", "values": {
        "entities": [{"start": 0, "end": 3, "label": "PER"}, {"start": 15, "end": 20, "label": "LOC"}], "order": ["a", "b", "c"]}})
    await second.put(url, json={"status": "submitted", "values": {
        "entities": [{"start": 0, "end": 3, "label": "PER"}, {"start": 8, "end": 11, "label": "PER"}], "order": ["a", "b", "c"]}})
    metrics = (await annotate.owner.get(f"{URL}/metrics")).json()
    assert metrics["agreement"]["entities"] == {"alpha": 0.5, "records": 1, "level": "span F1 (exact)"}
    assert metrics["agreement"]["order"] == {"alpha": 1.0, "records": 1, "level": "Kendall's W"}
