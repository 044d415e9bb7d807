"""Distribution (N=2: completed only after two users) and leases (no double hand-out when N=1)."""

from __future__ import annotations

import asyncio

import pytest
from annotate_testing import BASE, Annotate
from claystream_annotate.adapters.redis_queue import RedisQueue
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.responses import save_response
from claystream_common.datasets import DatasetSpec
from claystream_common.ports import RecordingPublisher

URL = f"{BASE}/default/datasets/reviews"


async def until(condition, timeout_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_record_completed_only_after_two_users(annotate: Annotate, publisher: RecordingPublisher) -> None:
    dataset = await annotate.dataset(min_submitted=2)
    [record] = await annotate.records(dataset, ["shared"])
    first, second = await annotate.member("n1"), await annotate.member("n2")
    assert (await first.get(f"{URL}/queue/next")).json()["id"] == record
    assert (await second.get(f"{URL}/queue/next")).json()["id"] == record, "N=2: both may hold it"
    await first.put(f"{URL}/records/{record}/response", json={"values": {"sentiment": "pos"}})

    async def first_published() -> bool:
        return len(publisher.of_type("response.submitted")) == 1

    await until(first_published)
    await asyncio.sleep(0.2)
    assert publisher.of_type("record.completed") == []
    assert (await annotate.owner.get(f"{URL}/records/{record}")).json()["status"] == "pending"
    assert (await first.get(f"{URL}/queue/next")).status_code == 204, "never twice to the same user"
    await second.put(f"{URL}/records/{record}/response", json={"values": {"sentiment": "neg"}})

    async def completed() -> bool:
        return len(publisher.of_type("record.completed")) == 1

    await until(completed)
    assert publisher.of_type("record.completed")[0].data.submitted_count == 2
    assert (await annotate.owner.get(f"{URL}/records/{record}")).json()["status"] == "completed"
    assert (await annotate.owner.get(f"{URL}")).json()["progress"] == {"records": 1, "completed": 1}
    third = await annotate.member("n3")
    assert (await third.get(f"{URL}/queue/next")).status_code == 204


@pytest.mark.parametrize("one_request", [False, True], ids=["put-then-next", "queue-answer"])
async def test_concurrent_annotators_never_share_a_record(annotate: Annotate, one_request: bool) -> None:
    dataset = await annotate.dataset(min_submitted=1)
    ids = await annotate.records(dataset, [f"r{i}" for i in range(30)])
    annotators = [await annotate.member(f"lease{i}") for i in range(2)]
    handed: list[list[str]] = [[], []]

    async def work(index: int) -> None:
        client = annotators[index]
        answer = await client.get(f"{URL}/queue/next")
        record = answer.json()["id"] if answer.status_code == 200 else None
        while record is not None:
            handed[index].append(record)
            if one_request:  # the answer and the next claim in one Redis MULTI
                saved = await client.post(f"{URL}/queue/answer", json={"record_id": record, "values": {"sentiment": "pos"}})
                assert saved.status_code == 200
                record = saved.json()["next"]["id"] if saved.json()["next"] else None
                continue
            saved = await client.put(f"{URL}/records/{record}/response", json={"values": {"sentiment": "pos"}})
            assert saved.status_code == 200
            answer = await client.get(f"{URL}/queue/next")
            record = answer.json()["id"] if answer.status_code == 200 else None

    await asyncio.gather(work(0), work(1))
    assert not set(handed[0]) & set(handed[1]), "a record went to both annotators"
    assert sorted(handed[0] + handed[1]) == sorted(ids)
    assert handed[0] and handed[1]
    assert (await annotate.owner.get(f"{URL}")).json()["progress"]["records"] == 30


async def test_queue_answer_with_two_answers_per_record(annotate: Annotate) -> None:
    dataset = await annotate.dataset(min_submitted=2)
    first_id, second_id = await annotate.records(dataset, ["one", "two"])
    first, second = await annotate.member("m1"), await annotate.member("m2")
    assert (await first.get(f"{URL}/queue/next")).json()["id"] == first_id
    assert (await second.get(f"{URL}/queue/next")).json()["id"] == first_id, "N=2: both may hold it"
    after_first = (await first.post(f"{URL}/queue/answer", json={"record_id": first_id, "values": {"sentiment": "pos"}})).json()
    assert after_first["next"]["id"] == second_id, "never twice to the same user; the record stays queued for the other"
    after_second = (await second.post(f"{URL}/queue/answer", json={"record_id": first_id, "values": {"sentiment": "neg"}})).json()
    assert after_second["next"]["id"] == second_id, "N=2: second_id is held by both again"
    done = (await first.post(f"{URL}/queue/answer", json={"record_id": second_id, "values": {"sentiment": "pos"}})).json()
    assert done["next"] is None
    assert (await first.get(f"{URL}/queue/next")).status_code == 204


async def test_lease_expires(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    [record] = await annotate.records(dataset, ["only"])
    holder, other = await annotate.member("h1"), await annotate.member("h2")
    deps = annotate.deps
    user_id = (await holder.get("/api/v1/me")).json()["user_id"]
    assert await deps.queue.claim_next(dataset["id"], user_id, ttl_s=1, exclusive=True) == record
    assert (await other.get(f"{URL}/queue/next")).status_code == 204
    await asyncio.sleep(1.2)
    assert (await other.get(f"{URL}/queue/next")).json()["id"] == record


async def test_a_lease_remembered_by_one_replica_stays_correct_when_another_answers(annotate: Annotate) -> None:
    """Replica A granted the lease and remembers it; the user answers through replica B, then through A again
    with a new value: A's memory says "held, not answered", the response insert finds B's response, and the
    answer becomes version 2 instead of failing or being lost."""
    dataset = await annotate.dataset()
    first_id, second_id = await annotate.records(dataset, ["one", "two"])
    member = await annotate.member("replicas")
    user_id = (await member.get("/api/v1/me")).json()["user_id"]
    deps = annotate.deps
    replica_b = RedisQueue(deps.redis)
    spec = DatasetSpec.from_document(await deps.datasets.get("default", "reviews"))
    actor = Principal(user_id=user_id, username="replicas", role=Role.ANNOTATOR, workspaces=frozenset({"default"}))
    stores = {"records": deps.records, "responses": deps.responses}
    assert (await member.get(f"{URL}/queue/next")).json()["id"] == first_id  # granted by replica A (the app)
    assert await deps.queue.lease_state(spec.id, user_id, first_id) == (True, False)
    await save_response(actor=actor, spec=spec, record_id=first_id, status="submitted", values={"sentiment": "pos"}, queue=replica_b, **stores)
    assert await replica_b.lease_state(spec.id, user_id, first_id) == (False, True)
    again = await member.post(f"{URL}/queue/answer", json={"record_id": first_id, "values": {"sentiment": "neg"}})
    assert again.status_code == 200, again.text
    assert again.json()["response"]["version"] == 2 and again.json()["response"]["values"] == {"sentiment": "neg"}
    assert again.json()["next"]["id"] == second_id
    assert await deps.queue.lease_state(spec.id, user_id, first_id) == (False, True), "answered: no longer vouched for"
    await replica_b.release(spec.id, second_id, user_id)  # the user let go of it through B
    assert await replica_b.lease_state(spec.id, user_id, second_id) == (False, False)


async def test_an_answer_to_a_record_deleted_while_open_is_not_found(annotate: Annotate) -> None:
    """The lease still vouched for the record: the answer was stored (and its event published) for a record that no
    longer existed, and the annotator was shown the next record without a word."""
    dataset = await annotate.dataset()
    [record, other] = await annotate.records(dataset, ["doomed", "next"])
    annotator = await annotate.member("gone1")
    assert (await annotator.get(f"{URL}/queue/next")).json()["id"] == record
    assert (await annotate.owner.delete(f"{URL}/records/{record}")).status_code == 204
    answer = await annotator.put(f"{URL}/records/{record}/response", json={"values": {"sentiment": "pos"}})
    assert answer.status_code == 404, answer.text
    assert await annotate.deps.responses.for_records([record]) == []
    assert (await annotator.get(f"{URL}/queue/next")).json()["id"] == other
