"""Issue 17 (low): the progress counters in Redis are recounted from MongoDB when Redis lost them."""

from __future__ import annotations

from annotate_testing import BASE, Annotate

URL = f"{BASE}/default/datasets/reviews"


async def test_counters_are_rebuilt_after_redis_lost_them(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    first = await annotate.records(dataset, ["a", "b", "c"])
    annotator = await annotate.member("n1")
    assert (await annotator.put(f"{URL}/records/{first[0]}/response", json={"values": {"sentiment": "pos"}})).status_code == 200
    deps = annotate.deps
    for _ in range(200):
        if (await deps.records.get(first[0]))["status"] == "completed":
            break
        await deps.relay.drain_once()
    assert (await deps.counters.read([dataset["id"]]))[dataset["id"]] == {"records": 3, "completed": 1}
    await deps.redis.delete(f"cs:c:{dataset['id']}")  # what a FLUSHALL or an empty restart does to this dataset
    await annotate.records(dataset, ["d"])  # an increment lands on the empty hash first
    assert (await deps.counters.read([dataset["id"]]))[dataset["id"]] == {"records": 4, "completed": 1}
    listed = (await annotate.owner.get(f"{URL}/records")).json()
    assert listed["total"] == 4


async def test_increments_landing_during_the_recount_are_kept(annotate: Annotate) -> None:
    """A new dataset read while its records arrive: the handler's increments that land after MongoDB was
    counted must survive the recount (overwriting the hash left progress at 0, then negative after deletes)."""
    from claystream_annotate.adapters.redis_queue import RedisCounters

    redis = annotate.deps.redis
    counters: RedisCounters

    async def recount_while_records_arrive(dataset_id: str) -> dict[str, int]:
        counted = {"records": 0, "completed": 0}  # MongoDB counted before the batch was stored ...
        await counters.incr(dataset_id, "records", 30)  # ... and the handler's increment lands after
        return counted

    counters = RedisCounters(redis, prefix="race", rebuild=recount_while_records_arrive)
    assert (await counters.read(["fresh"]))["fresh"] == {"records": 30, "completed": 0}
    assert (await counters.read(["fresh"]))["fresh"] == {"records": 30, "completed": 0}  # recounted once
