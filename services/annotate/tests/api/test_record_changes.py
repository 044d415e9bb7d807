"""Record update / delete, responses import, anyone's response status, export filter and limits."""

from __future__ import annotations

import asyncio
import json

from annotate_testing import BASE, OWNER, Annotate
from claystream_common.ports import RecordingPublisher

URL = f"{BASE}/default/datasets/reviews"


async def drained(annotate: Annotate) -> None:
    for _ in range(200):
        if await annotate.deps.responses.pending_count() == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("outbox not drained")


async def test_limits_are_published(annotate: Annotate) -> None:
    answer = (await annotate.owner.get("/api/v1/limits")).json()
    assert answer["records_page_max"] == annotate.deps.settings.page_max and answer["responses_import_max"] >= 1
    assert (await annotate.client().get("/api/v1/limits")).status_code == 401


async def test_responses_import_checks_everything_first_then_emits_events(annotate: Annotate, publisher: RecordingPublisher) -> None:
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, ["a", "b", "c"])
    await annotate.member("imp")
    bad = await annotate.owner.post(f"{URL}/responses:import", json={"items": [
        {"record_id": ids[0], "user": "imp", "values": {"sentiment": "pos"}},
        {"record_id": ids[1], "user": "ghost", "values": {"sentiment": "pos"}, "index": 41},
        {"record_id": ids[2], "user": "imp", "values": {"sentiment": "maybe"}},
        {"record_id": "missing", "user": "imp", "values": {"sentiment": "neg"}},
    ]})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"index": 41, "field": "responses.user", "reason": "unknown user 'ghost' in workspace default"},
        {"index": 2, "field": "responses.values.sentiment", "reason": "must be one of ['pos', 'neg'], not 'maybe'"},
        {"index": 3, "field": "record_id", "reason": "no record missing in dataset reviews"},
    ]
    assert await annotate.deps.responses.for_records(ids) == []  # nothing stored
    dry = await annotate.owner.post(f"{URL}/responses:import", json={"dry_run": True, "items": [
        {"record_id": "not-yet-logged", "user": "imp", "values": {"sentiment": "pos"}}]})
    assert dry.status_code == 200 and dry.json() == {"imported": 0}
    items = [{"record_id": ids[0], "user": "imp", "values": {"sentiment": "pos"}},
             {"record_id": ids[1], "user": "imp", "values": {"sentiment": "neg"}, "status": "draft"}]
    assert (await annotate.owner.post(f"{URL}/responses:import", json={"items": items})).json() == {"imported": 2}
    assert (await annotate.owner.post(f"{URL}/responses:import", json={"items": items})).json() == {"imported": 0}
    await drained(annotate)
    submitted = publisher.of_type("response.submitted")
    assert len(submitted) == 1 and submitted[0].data.record_id == ids[0] and submitted[0].data.values == {"sentiment": "pos"}
    annotator = await annotate.login("imp")
    assert (await annotator.post(f"{URL}/responses:import", json={"items": items})).status_code == 403


async def test_response_status_of_anyone_for_admins(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, ["a", "b", "c"])
    annotator = await annotate.member("scope")
    await annotator.put(f"{URL}/records/{ids[0]}/response", json={"status": "submitted", "values": {"sentiment": "pos"}})
    await annotator.put(f"{URL}/records/{ids[1]}/response", json={"status": "draft", "values": {}})
    await drained(annotate)

    async def ids_of(client, **params: str) -> list[str]:  # type: ignore[no-untyped-def]
        answer = await client.get(f"{URL}/records", params=params)
        assert answer.status_code == 200, answer.text
        return [r["id"] for r in answer.json()["items"]]

    assert await ids_of(annotate.owner, response_status="submitted") == []  # a user's default: their own answers
    assert await ids_of(annotate.owner, response_status="submitted", response_scope="any") == [ids[0]]
    assert await ids_of(annotate.owner, response_status="draft", response_scope="any") == [ids[1]]
    assert await ids_of(annotate.owner, response_status="pending", response_scope="any") == [ids[2]]
    assert await ids_of(annotator, response_status="submitted") == [ids[0]]
    # the bulk view reads the filter's scope too: the owner labelling "pending for anyone" reaches only ids[2]
    for scope, matched in (("any", 1), ("mine", 3)):
        dry = await annotate.owner.post(f"{URL}/responses:bulk", json={
            "filter": {"response_status": "pending", "response_scope": scope}, "values": {"sentiment": "neg"}, "dry_run": True})
        assert dry.status_code == 200 and dry.json()["matched"] == matched, (scope, dry.text)
    refused = await annotator.get(f"{URL}/records", params={"response_status": "submitted", "response_scope": "any"})
    assert refused.status_code == 403
    key = (await annotate.owner.post(f"{BASE}/default/api-keys", json={"name": "reader", "role": "admin"})).json()["api_key"]
    reader = annotate.client()
    reader.headers["X-API-Key"] = key
    assert await ids_of(reader, response_status="submitted") == [ids[0]]  # an admin key's default: anyone's
    export = await annotate.owner.get(f"{URL}/export", params={"response_status": "submitted"})
    assert [json.loads(line)["id"] for line in export.text.splitlines()] == [ids[0]]
    pending = await annotate.owner.get(f"{URL}/export", params={"response_status": "pending", "format": "csv"})
    assert len(pending.text.strip().splitlines()) == 2  # header + the unanswered record
    assert (await annotate.owner.get(f"{URL}/export", params={"response_status": "maybe"})).status_code == 422


async def test_update_and_delete_records(annotate: Annotate, publisher: RecordingPublisher) -> None:
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, [f"t{i}" for i in range(6)], genres=["drama", "comedy"])
    changed = await annotate.owner.patch(f"{URL}/records", json={"items": [
        {"id": ids[0], "metadata": {"genre": "horror"}},
        {"id": ids[1], "suggestions": [{"question": "sentiment", "value": "neg", "score": 0.7, "agent": "x"}]}]})
    assert changed.json() == {"updated": 2}
    one = (await annotate.owner.get(f"{URL}/records/{ids[1]}")).json()
    assert one["suggestions"] == [{"question": "sentiment", "value": "neg", "score": 0.7, "agent": "x", "model_version": None}]
    bad = await annotate.owner.patch(f"{URL}/records", json={"items": [
        {"id": ids[2], "metadata": {"genre": "x"}}, {"id": ids[3], "suggestions": [{"question": "nope", "value": "neg"}]},
        {"id": "missing", "metadata": {}}]})
    assert bad.status_code == 422 and [(e["index"], e["field"]) for e in bad.json()["errors"]] == [(1, "suggestions.nope"), (2, "id")]
    assert (await annotate.owner.get(f"{URL}/records/{ids[2]}")).json()["metadata"] == {"genre": "drama"}
    member = await annotate.member("deleter")
    assert (await member.post(f"{URL}/records:delete", json={"ids": [ids[0]]})).status_code == 403
    assert (await annotate.owner.post(f"{URL}/records:delete", json={"ids": [ids[0], "missing"]})).json() == {"deleted": 1}
    by_filter = await annotate.owner.post(f"{URL}/records:delete", json={"filter": {"metadata": {"genre": ["comedy"]}}})
    assert by_filter.json() == {"deleted": 3}
    assert (await annotate.owner.delete(f"{URL}/records/{ids[2]}")).status_code == 204
    left = (await annotate.owner.get(f"{URL}/records")).json()
    assert [r["id"] for r in left["items"]] == [ids[4]] and left["total"] == 1
    # the trainer is told, one record.deleted per record that was there, keyed by the record id (its partition)
    gone = [(event.data.record_id, key, event.dataset, event.data.deleted_by) for event, key in publisher.published
            if event.type == "record.deleted"]
    assert sorted(gone) == sorted((i, i, dataset["name"], OWNER) for i in (ids[0], ids[1], ids[3], ids[5], ids[2]))
    assert (await annotate.owner.get(f"{URL}/records/{ids[0]}")).status_code == 404


async def test_metadata_and_suggestions_mongodb_cannot_store_are_refused_and_nothing_changes(annotate: Annotate) -> None:
    """A 64-bit overflow or a NaN reached MongoDB and failed there: a 500, with the items before it already written."""
    dataset = await annotate.dataset(metadata_properties=[{"name": "genre", "type": "terms"}, {"name": "year", "type": "integer"},
                                                          {"name": "score", "type": "float"}])
    ids = await annotate.records(dataset, ["a", "b"])
    answer = await annotate.owner.patch(f"{URL}/records", content=json.dumps({"items": [
        {"id": ids[0], "metadata": {"year": 7, "score": "0.5"}},
        {"id": ids[1], "metadata": {"year": 2**63, "score": float("nan"), "other": 2**64},
         "suggestions": [{"question": "sentiment", "value": "pos", "agent": {"nested": True}}]},
    ]}), headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert [(e["index"], e["field"]) for e in answer.json()["errors"]] == [
        (1, "metadata.year"), (1, "metadata.score"), (1, "metadata.other"), (1, "suggestions.sentiment.agent")]
    assert (await annotate.owner.get(f"{URL}/records/{ids[0]}")).json()["metadata"] == {"genre": "drama"}  # all or nothing
    fine = await annotate.owner.patch(f"{URL}/records", json={"items": [{"id": ids[0], "metadata": {"year": 7.0, "score": "0.5"}}]})
    assert fine.json() == {"updated": 1}
    assert (await annotate.owner.get(f"{URL}/records/{ids[0]}")).json()["metadata"] == {"year": 7, "score": 0.5}
