from __future__ import annotations

import pytest
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.records import RecordQuery, build_query, search_records
from claystream_annotate.services.responses import save_response

from conftest import World, admin, annotator, make_spec


def test_queries_stay_flat_for_the_index() -> None:
    built = build_query(make_spec(), RecordQuery(response_status="pending", status="pending", metadata={"genre": ["drama"]},
                                                 suggested="pos", score_min=0.5, q="Great"), "u1")
    assert "$and" not in built.mongo and "$or" not in built.mongo
    assert built.mongo["user_status.u1"] == {"$exists": False}
    assert built.mongo["suggestions.sentiment.score"] == {"$gte": 0.5}
    assert built.text == "great"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (RecordQuery(response_status="maybe"), "response_status"),
        (RecordQuery(metadata={"colour": ["red"]}), "metadata.colour"),
        (RecordQuery(metadata={"year": ["soon"]}), "metadata.year"),
        (RecordQuery(sort="random"), "sort"),
        (RecordQuery(question="nope"), "question"),
        (RecordQuery(after="%%%"), "after"),
    ],
)
def test_bad_parameters_are_named(params: RecordQuery, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        build_query(make_spec(), params, "u1")
    assert caught.value.field == field


async def test_pages_filters_text_and_own_responses(world: World) -> None:
    spec = make_spec()
    for i in range(7):
        world.records.add(f"r{i}", spec.id, fields={"text": "A great film" if i % 2 else "dull"}, metadata={"genre": "drama"})
    await save_response(actor=annotator("u1"), spec=spec, record_id="r1", status="submitted", values={"sentiment": "pos"}, **world.ports())
    await save_response(actor=annotator("u2"), spec=spec, record_id="r1", status="submitted", values={"sentiment": "neg"}, **world.ports())
    await world.counters.incr(spec.id, "records", 7)
    kwargs = {"spec": spec, "records": world.records, "responses": world.responses, "counters": world.counters}
    first = await search_records(RecordQuery(limit=3), actor=annotator("u1"), **kwargs)
    second = await search_records(RecordQuery(limit=3, after=first.next_after), actor=annotator("u1"), **kwargs)
    third = await search_records(RecordQuery(limit=3, after=second.next_after), actor=annotator("u1"), **kwargs)
    assert [r["id"] for r in first.items + second.items + third.items] == [f"r{i}" for i in range(7)]
    assert first.total == 7 and third.total == 7 and third.next_after is None
    assert [r["user_id"] for r in first.items[1]["responses"]] == ["u1"], "annotators see only their own"
    as_admin = await search_records(RecordQuery(limit=3), actor=admin(), **kwargs)
    assert sorted(r["user_id"] for r in as_admin.items[1]["responses"]) == ["u1", "u2"]
    texts = await search_records(RecordQuery(q="GREAT", limit=10), actor=annotator("u1"), **kwargs)
    assert [r["id"] for r in texts.items] == ["r1", "r3", "r5"] and texts.total is None
    with pytest.raises(Invalid):
        await search_records(RecordQuery(limit=500), actor=annotator("u1"), **kwargs)


@pytest.mark.parametrize("limit", [1, 2, 3])
@pytest.mark.parametrize("sort", ["arrival", "-arrival"])
async def test_pages_never_skip_or_repeat_records_tied_on_seq(world: World, limit: int, sort: str) -> None:
    """Issue 17 finding 5: two replicas may stamp the same seq; ties at a page boundary stay."""
    spec = make_spec()
    seqs = [1, 2, 2, 2, 2, 2, 3, 3, 4]
    for i, seq in enumerate(seqs):
        world.records.add(f"r{i}", spec.id)["seq"] = seq
    kwargs = {"spec": spec, "records": world.records, "responses": world.responses, "counters": world.counters}
    seen: list[str] = []
    after = None
    for _ in range(20):
        page = await search_records(RecordQuery(limit=limit, after=after, sort=sort), actor=annotator("u1"), **kwargs)
        seen += [r["id"] for r in page.items]
        after = page.next_after
        if after is None:
            break
    assert sorted(seen) == [f"r{i}" for i in range(len(seqs))] and len(seen) == len(seqs)
    order = [seqs[int(r[1:])] for r in seen]
    assert order == sorted(order, reverse=sort.startswith("-"))


def test_cursors_of_the_previous_shape_are_still_read() -> None:
    import base64
    import json

    old = base64.urlsafe_b64encode(json.dumps([5, 5]).encode()).decode().rstrip("=")
    assert build_query(make_spec(), RecordQuery(after=old), "u1").after == (5, 5, frozenset())


async def test_text_search_reads_a_projection_within_a_budget(world: World) -> None:
    """Issue 17 finding 9: a text search never reads whole documents while scanning, stops at its
    budget, and refuses an overlong query."""
    spec = make_spec()
    for i in range(30):
        world.records.add(f"r{i:02d}", spec.id, fields={"text": "needle" if i == 25 else "hay"}, metadata={"genre": "drama"})
    kwargs = {"spec": spec, "records": world.records, "responses": world.responses, "counters": world.counters}
    world.records.finds.clear()
    capped = await search_records(RecordQuery(q="needle", limit=5), actor=annotator("u1"), text_scan_budget=10, **kwargs)
    assert capped.items == [] and capped.next_after is not None, "the budget stops the scan and says where to go on"
    assert world.records.finds and all(p is not None and "metadata" not in p and "suggestions" not in p for p in world.records.finds)
    found = await search_records(RecordQuery(q="needle", limit=5), actor=annotator("u1"), **kwargs)
    assert [r["id"] for r in found.items] == ["r25"] and found.items[0]["metadata"] == {"genre": "drama"}, "the page is loaded in full"
    with pytest.raises(Invalid) as caught:
        await search_records(RecordQuery(q="x" * 201, limit=5), actor=annotator("u1"), **kwargs)
    assert caught.value.field == "q"


@pytest.mark.parametrize("values", [
    [0, 1e999],  # seq infinite (json reads 1e999 as inf)
    [0, 9223372036854775808],  # seq past what BSON stores
    [{"$gt": ""}, 0],  # an operator object where the sort key goes
    [[1, 2], 0],
    [0.5, "7"],
    [0.5, True],
])
def test_a_crafted_cursor_is_a_malformed_cursor_never_a_query(values: list[object]) -> None:
    import base64
    import json

    crafted = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    for sort in ("arrival", "-score"):
        with pytest.raises(Invalid) as caught:
            build_query(make_spec(), RecordQuery(after=crafted, sort=sort), "u1")
        assert (caught.value.field, caught.value.reason) == ("after", "malformed cursor")
