from __future__ import annotations

import asyncio

from annotate_testing import BASE, Annotate
from claystream_common.ports import RecordingPublisher

URL = f"{BASE}/default/datasets/reviews"


async def drained(annotate: Annotate) -> None:
    for _ in range(100):
        if await annotate.deps.responses.pending_count() == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("outbox not drained")


async def test_put_get_discard_and_events(annotate: Annotate, publisher: RecordingPublisher) -> None:
    dataset = await annotate.dataset()
    [record] = await annotate.records(dataset, ["a"])
    annotator = await annotate.member("resp")
    bad = await annotator.put(f"{URL}/records/{record}/response", json={"status": "submitted", "values": {"sentiment": "meh"}})
    assert bad.status_code == 422 and bad.json()["field"] == "values.sentiment"
    missing = await annotator.put(f"{URL}/records/{record}/response", json={"status": "submitted", "values": {}})
    assert missing.status_code == 422 and missing.json()["field"] == "values.sentiment"
    saved = await annotator.put(f"{URL}/records/{record}/response", json={"status": "submitted", "values": {"sentiment": "pos"}})
    assert saved.status_code == 200 and saved.json()["version"] == 1
    assert (await annotator.get(f"{URL}/records/{record}/response")).json()["values"] == {"sentiment": "pos"}
    discarded = await annotator.delete(f"{URL}/records/{record}/response")
    assert discarded.json()["status"] == "discarded"
    assert (await annotator.get(f"{URL}/records/{record}/responses")).json()[0]["status"] == "discarded"
    await drained(annotate)
    types = [e.type for e, _ in publisher.published]
    assert types.count("response.submitted") == 1 and types.count("response.discarded") == 1
    user_id = saved.json()["user_id"]
    assert (await annotate.owner.get(f"{URL}/records/{record}/responses/{user_id}")).status_code == 200
    other = await annotate.member("resp2")
    assert (await other.get(f"{URL}/records/{record}/responses/{user_id}")).status_code == 403
    assert (await other.put(f"{URL}/records/missing/response", json={"values": {"sentiment": "pos"}})).status_code == 404


async def test_an_updated_response_keeps_a_utc_time(annotate: Annotate) -> None:
    """The embedded store keeps a date written by an update as naive text: an answer changed once was shown without
    its time zone (``2026-12-04 16:55:32.552000``), unlike a new one."""
    from datetime import datetime

    dataset = await annotate.dataset()
    [record] = await annotate.records(dataset, ["a"])
    annotator = await annotate.member("resp3")
    times = []
    for value in ("pos", "neg"):
        saved = await annotator.put(f"{URL}/records/{record}/response", json={"status": "submitted", "values": {"sentiment": value}})
        assert saved.status_code == 200, saved.text
        read = (await annotator.get(f"{URL}/records/{record}/response")).json()
        times.append(datetime.fromisoformat(read["updated_at"]))
    assert all(t.utcoffset() is not None and t.utcoffset().total_seconds() == 0 for t in times), times
    assert times[1] >= times[0]


async def test_bulk_selected_and_by_filter_with_dry_run(annotate: Annotate, publisher: RecordingPublisher) -> None:
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, [f"t{i}" for i in range(6)], genres=["drama", "comedy"])
    annotator = await annotate.member("bulk")
    missing = await annotator.post(f"{URL}/responses:bulk", json={"record_ids": [ids[0], "nope"], "values": {"sentiment": "neg"},
                                                                   "dry_run": True})
    assert missing.json() == {"matched": 1, "changed": 0, "dry_run": True}  # ids of no record of the dataset match nothing
    selected = await annotator.post(f"{URL}/responses:bulk", json={"record_ids": ids[:2], "values": {"sentiment": "neg"}})
    assert selected.json() == {"matched": 2, "changed": 2, "dry_run": False}
    dry = await annotator.post(f"{URL}/responses:bulk", json={"filter": {"metadata": {"genre": ["drama"]}}, "values": {"sentiment": "pos"}, "dry_run": True})
    assert dry.json() == {"matched": 3, "changed": 0, "dry_run": True}
    applied = await annotator.post(f"{URL}/responses:bulk", json={"filter": {"metadata": {"genre": ["drama"]}}, "values": {"sentiment": "pos"}})
    assert applied.json() == {"matched": 3, "changed": 3, "dry_run": False}
    both = await annotator.post(f"{URL}/responses:bulk", json={"values": {"sentiment": "pos"}})
    assert both.status_code == 422
    await drained(annotate)
    assert len(publisher.of_type("response.submitted")) == 4 and len(publisher.of_type("response.updated")) == 1
    submitted = (await annotator.get(f"{URL}/records", params={"response_status": "submitted"})).json()
    assert len(submitted["items"]) == 4
    pending = (await annotator.get(f"{URL}/records", params={"response_status": "pending"})).json()
    assert [r["id"] for r in pending["items"]] == [ids[3], ids[5]]
