from __future__ import annotations

from annotate_testing import BASE, Annotate

URL = f"{BASE}/default/datasets/reviews"


async def test_search_filters_and_cursor(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, [f"review {i} {'great' if i % 2 else 'dull'}" for i in range(9)], genres=["drama", "comedy", "horror"])
    page = (await annotate.owner.get(f"{URL}/records", params={"limit": 4})).json()
    assert [r["id"] for r in page["items"]] == ids[:4] and page["total"] == 9
    item = page["items"][0]
    assert set(item) >= {"id", "external_id", "fields", "metadata", "suggestions", "responses", "priority", "status"}
    rest = (await annotate.owner.get(f"{URL}/records", params={"limit": 10, "after": page["next_after"]})).json()
    assert [r["id"] for r in rest["items"]] == ids[4:] and rest["next_after"] is None
    comedy = (await annotate.owner.get(f"{URL}/records", params={"metadata.genre": "comedy", "count": "true"})).json()
    assert [r["id"] for r in comedy["items"]] == ids[1::3] and comedy["total"] == 3
    great = (await annotate.owner.get(f"{URL}/records", params={"q": "GREAT"})).json()
    assert [r["id"] for r in great["items"]] == ids[1::2]
    bad = await annotate.owner.get(f"{URL}/records", params={"response_status": "nope"})
    assert bad.status_code == 422 and bad.json()["field"] == "response_status"
    assert (await annotate.owner.get(f"{URL}/records", params={"limit": 1000})).status_code == 422
    one = await annotate.owner.get(f"{URL}/records/{ids[0]}")
    assert one.status_code == 200 and one.json()["fields"]["text"] == "review 0 dull"
    assert (await annotate.owner.get(f"{URL}/records/missing")).status_code == 404


async def test_queue_next_and_release(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, ["a", "b"])
    ann1, ann2 = await annotate.member("q1"), await annotate.member("q2")
    first = await ann1.get(f"{URL}/queue/next")
    assert first.status_code == 200 and first.json()["id"] == ids[0]
    assert (await ann1.get(f"{URL}/queue/next")).json()["id"] == ids[0], "same record until answered"
    assert (await ann2.get(f"{URL}/queue/next")).json()["id"] == ids[1]
    assert (await annotate.member("q3")).get is not None
    q3 = await annotate.login("q3")
    assert (await q3.get(f"{URL}/queue/next")).status_code == 204
    assert (await ann1.post(f"{URL}/queue/release/{ids[0]}")).status_code == 204
    assert (await q3.get(f"{URL}/queue/next")).json()["id"] == ids[0]

async def test_queue_answer_saves_the_response_and_leases_the_next_record(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, ["a", "b", "c"])
    ann1, ann2 = await annotate.member("qa1"), await annotate.member("qa2")
    assert (await ann1.get(f"{URL}/queue/next")).json()["id"] == ids[0]
    assert (await ann2.get(f"{URL}/queue/next")).json()["id"] == ids[1]
    answer = await ann1.post(f"{URL}/queue/answer", json={"record_id": ids[0], "values": {"sentiment": "pos"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["response"] == {**body["response"], "record_id": ids[0], "status": "submitted", "values": {"sentiment": "pos"}, "version": 1}
    assert body["next"]["id"] == ids[2], "the next record not leased to someone else"
    assert "responses" not in body["next"] or body["next"]["responses"] == []
    stored = (await ann1.get(f"{URL}/records/{ids[0]}/response")).json()
    assert stored["status"] == "submitted" and stored["values"] == {"sentiment": "pos"}
    assert (await ann1.get(f"{URL}/queue/next")).json()["id"] == ids[2], "the next record is the caller's lease"
    # a bad answer changes nothing: 422 naming the question, the record stays the caller's current one
    bad = await ann1.post(f"{URL}/queue/answer", json={"record_id": ids[2], "values": {"sentiment": "maybe"}})
    assert bad.status_code == 422 and "sentiment" in bad.text
    assert (await ann1.get(f"{URL}/records/{ids[2]}/response")).status_code == 404
    assert (await ann1.get(f"{URL}/queue/next")).json()["id"] == ids[2]
    missing = await ann1.post(f"{URL}/queue/answer", json={"record_id": "nope", "values": {"sentiment": "pos"}})
    assert missing.status_code == 404
    assert (await ann1.post(f"{URL}/queue/answer", json={"values": {"sentiment": "pos"}})).status_code == 422
    last = (await ann1.post(f"{URL}/queue/answer", json={"record_id": ids[2], "status": "discarded"})).json()
    assert last["response"]["status"] == "discarded" and last["next"] is None, "nothing left for ann1 (ids[1] is ann2's)"
