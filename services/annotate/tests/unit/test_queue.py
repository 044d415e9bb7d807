from __future__ import annotations

import pytest
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.queue import next_record, queue_score
from claystream_annotate.services.responses import answer_and_next, save_response

from conftest import World, annotator, make_spec


async def test_order_is_priority_first_then_arrival(world: World) -> None:
    spec = make_spec()
    for name in ("old", "new", "uncertain", "very-uncertain"):
        world.records.add(name, spec.id)
    world.records.documents["uncertain"]["priority"] = 0.4
    world.records.documents["very-uncertain"]["priority"] = 0.9
    seen = []
    for _ in range(4):
        record = await next_record(actor=annotator(), spec=spec, **world.ports())
        seen.append(record["_id"])
        await save_response(actor=annotator(), spec=spec, record_id=record["_id"], status="submitted", values={"sentiment": "pos"}, **world.ports())
    assert seen == ["very-uncertain", "uncertain", "old", "new"]
    assert await next_record(actor=annotator(), spec=spec, **world.ports()) is None


def test_queue_score() -> None:
    assert queue_score(0.9, 10) < queue_score(0.1, 10) < queue_score(None, 1) < queue_score(None, 2)


async def test_leases_are_exclusive_and_reentrant_when_one_submission_is_enough(world: World) -> None:
    spec = make_spec(min_submitted=1)
    world.records.add("r1", spec.id)
    world.records.add("r2", spec.id)
    first = await next_record(actor=annotator("u1"), spec=spec, **world.ports())
    second = await next_record(actor=annotator("u2"), spec=spec, **world.ports())
    again = await next_record(actor=annotator("u1"), spec=spec, **world.ports())
    assert first["_id"] != second["_id"]
    assert again["_id"] == first["_id"]
    assert await next_record(actor=annotator("u3"), spec=spec, **world.ports()) is None


async def test_expired_lease_frees_the_record(world: World) -> None:
    spec = make_spec()
    world.records.add("r1", spec.id)
    clock = [1000.0]
    world.queue.now = lambda: clock[0]
    assert (await next_record(actor=annotator("u1"), spec=spec, lease_ttl_s=30, **world.ports()))["_id"] == "r1"
    assert await next_record(actor=annotator("u2"), spec=spec, lease_ttl_s=30, **world.ports()) is None
    clock[0] += 31
    assert (await next_record(actor=annotator("u2"), spec=spec, lease_ttl_s=30, **world.ports()))["_id"] == "r1"


async def test_several_annotators_share_a_record_when_more_submissions_are_needed(world: World) -> None:
    spec = make_spec(min_submitted=2)
    world.records.add("r1", spec.id)
    a = await next_record(actor=annotator("u1"), spec=spec, **world.ports())
    b = await next_record(actor=annotator("u2"), spec=spec, **world.ports())
    assert a["_id"] == b["_id"] == "r1"
    await save_response(actor=annotator("u1"), spec=spec, record_id="r1", status="submitted", values={"sentiment": "pos"}, **world.ports())
    assert await next_record(actor=annotator("u1"), spec=spec, **world.ports()) is None, "never the same record twice to one user"


async def test_answers_stored_before_a_restart_are_respected(world: World) -> None:
    spec = make_spec()
    world.records.add("r1", spec.id)
    world.records.add("r2", spec.id)
    await save_response(actor=annotator("u1"), spec=spec, record_id="r1", status="draft", values={}, **world.ports())
    world.queue = type(world.queue)()  # Redis lost: rebuilt from the stores
    record = await next_record(actor=annotator("u1"), spec=spec, **world.ports())
    assert record["_id"] == "r2"


async def test_answer_and_next_serves_the_queue_in_order_and_skips_records_deleted_meanwhile(world: World) -> None:
    spec = make_spec()
    for name in ("a", "b", "gone", "c"):
        world.records.add(name, spec.id)
    first = await next_record(actor=annotator(), spec=spec, **world.ports())
    assert first["_id"] == "a"
    saved, following = await answer_and_next(actor=annotator(), spec=spec, record_id="a", status="submitted", values={"sentiment": "pos"}, **world.ports())
    assert (saved.record_id, saved.status, following["_id"]) == ("a", "submitted", "b")
    assert world.responses.documents["a:u1"].values == {"sentiment": "pos"}
    del world.records.documents["gone"]  # deleted while queued: a stale entry the answer's claim lands on
    _, following = await answer_and_next(actor=annotator(), spec=spec, record_id="b", status="discarded", values=None, **world.ports())
    assert following["_id"] == "c"
    assert "gone" not in world.queue.queues[spec.id], "the stale entry is dropped"
    _, following = await answer_and_next(actor=annotator(), spec=spec, record_id="c", status="submitted", values={"sentiment": "neg"}, **world.ports())
    assert following is None


async def test_a_rejected_answer_changes_nothing_and_keeps_the_lease(world: World) -> None:
    spec = make_spec()
    world.records.add("a", spec.id)
    world.records.add("b", spec.id)
    assert (await next_record(actor=annotator(), spec=spec, **world.ports()))["_id"] == "a"
    with pytest.raises(Invalid):
        await answer_and_next(actor=annotator(), spec=spec, record_id="a", status="submitted", values={"sentiment": "maybe"}, **world.ports())
    assert "a:u1" not in world.responses.documents
    assert (await next_record(actor=annotator(), spec=spec, **world.ports()))["_id"] == "a"
