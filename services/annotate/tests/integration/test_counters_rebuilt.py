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


async def test_a_new_dataset_is_counted_by_increments_alone(annotate: Annotate) -> None:
    """A fresh-clone CI run: the SDK logged 2,500 records and ``total`` read 3,131.  The first read of a
    new dataset recounted MongoDB while the records arrived, and the batches stored between the look and
    the count were counted twice.  A dataset created empty starts its counters at zero, marked built, so
    no read ever recounts it."""
    from claystream_annotate.adapters.redis_queue import RedisCounters

    recounts: list[str] = []

    async def recount(dataset_id: str) -> dict[str, int]:
        recounts.append(dataset_id)
        return {"records": 10_000, "completed": 0}  # what a racing count would add on top

    dataset = await annotate.dataset()
    watched = RedisCounters(annotate.deps.redis, rebuild=recount)
    assert (await watched.read([dataset["id"]]))[dataset["id"]] == {"records": 0, "completed": 0}
    await annotate.records(dataset, ["a", "b"])
    assert (await watched.read([dataset["id"]]))[dataset["id"]] == {"records": 2, "completed": 0}
    assert recounts == []
    listed = (await annotate.owner.get(f"{URL}/records", params={"limit": 1})).json()
    assert listed["total"] == 2
