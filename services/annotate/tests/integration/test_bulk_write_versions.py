"""Issue 17 (low) on the real MongoDB: bulk response writes are version-guarded and report who lost."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from annotate_testing import running_annotate
from claystream_annotate.services.ports import ResponseDoc


def doc(record_id: str, version: int, value: str) -> ResponseDoc:
    return ResponseDoc(id=f"{record_id}:u1", record_id=record_id, dataset_id="d", workspace="default", user_id="u1",
                       status="submitted", values={"sentiment": value}, version=version, updated_at=datetime.now(UTC),
                       outbox=[f"event {record_id} v{version}"])


async def test_bulk_writes_are_optimistic(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    async with running_annotate(embedded_stack, outbox_enabled="false") as annotate:  # the outbox texts here are not events
        await check_writes(annotate.deps.responses)


async def check_writes(store) -> None:  # type: ignore[no-untyped-def]
    for record_id in ("a", "b", "d"):
        assert await store.insert(doc(record_id, 1, "neg"))
    lost = await store.write_many_if_version([
        (doc("a", 2, "pos"), 1),  # current: wins
        (doc("b", 2, "pos"), 5),  # stale: loses
        (doc("c", 1, "pos"), None),  # new: wins
        (replace(doc("d", 1, "pos"), outbox=["dup"]), None),  # "new", but someone created it meanwhile: loses
    ])
    assert lost == ["b:u1", "d:u1"]
    assert (await store.get("d:u1")).outbox == ["event d v1"]
    a, b, c = [await store.get(f"{r}:u1") for r in ("a", "b", "c")]
    assert (a.version, a.values, a.outbox) == (2, {"sentiment": "pos"}, ["event a v1", "event a v2"])
    assert (b.version, b.values, b.outbox) == (1, {"sentiment": "neg"}, ["event b v1"])
    assert (c.version, c.outbox) == (1, ["event c v1"])
