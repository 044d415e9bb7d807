"""Scaling by partition, with fakes: a replica that takes over a model's partition resumes its window from
the checkpoint; redelivered events (the batch the dead replica handled but never committed) count once;
two replicas racing on one model never both advance it.  Everything matches a single-replica run."""

from __future__ import annotations

import dataclasses
import json

from claystream_common.ports import RecordingPublisher
from claystream_monitor.services.engine import MonitorEngine, fence_from_stored, fence_to_stored
from claystream_monitor.services.predictions import PredictionPorts, record_predictions
from monitor_fakes import MemoryJoin, MemoryStore
from monitor_synthetic import WORDS_B, stream
from test_use_cases import CONFIG, KEY, events, make_ports


def replica(shared: PredictionPorts) -> PredictionPorts:
    """Another monitor process: its own engine (windows in memory), the same MongoDB."""
    return dataclasses.replace(shared, engine=MonitorEngine(CONFIG, store=shared.store, embedder=None),
                               join=shared.join, publisher=RecordingPublisher())


def figures(ports: PredictionPorts, published: list) -> dict:
    store: MemoryStore = ports.store
    evaluations = [(e["kind"], e["index"], e["events_seen"], tuple((r["check"], r["breached"], round(r["p_value"], 9))
                    for r in e["results"])) for e in store.evaluations]
    return {
        "traffic": sum(row["count"] for row in store.traffic.values()),
        "evaluations": evaluations,
        "alerts": sorted((a["check"], a["status"] if "status" in a else a.get("type")) for a in store.alerts),
        # as the fenced consumers see them: a retried or raced batch publishes the same event ids again
        "drift": [(e.type, e.data.check) for e in {e.event_id: e for e, _ in published}.values()],
        "events_seen": store.checkpoints[KEY.id]["state"]["events_seen"],
    }


def traffic_batches() -> list:
    batch = events(stream(600, seed=11)) + events(stream(250, seed=12, words=WORDS_B, length=(4, 9), start=9_000))
    return [batch[i:i + 50] for i in range(0, len(batch), 50)]


async def test_takeover_resumes_the_window_and_redelivery_counts_once() -> None:
    batches = traffic_batches()
    single = make_ports()
    for batch in batches:
        await record_predictions(batch, ports=single)
    expected = figures(single, single.publisher.published)
    assert expected["traffic"] == 850 and expected["drift"], "the shifted tail must alert"

    first = make_ports()
    for batch in batches[:9]:
        await record_predictions(batch, ports=first)
    # kill -9 after batch 8 was handled but before its offset was committed: the survivor gets 8 again
    survivor = replica(first)
    for batch in batches[8:]:
        await record_predictions(batch, ports=survivor)
    published = first.publisher.published + survivor.publisher.published
    assert figures(first, published) == expected


async def test_a_checkpoint_whose_fence_is_still_a_list_fences_the_redelivery() -> None:
    """Checkpoints written before the fence became one string hold an array of ids."""
    batches = traffic_batches()
    single = make_ports()
    for batch in batches:
        await record_predictions(batch, ports=single)
    first = make_ports()
    for batch in batches[:9]:
        await record_predictions(batch, ports=first)
    checkpoint = first.store.checkpoints[KEY.id]
    checkpoint["fence"] = json.loads(checkpoint["fence"])
    assert len(checkpoint["fence"]) == 450
    survivor = replica(first)
    for batch in batches[8:]:
        await record_predictions(batch, ports=survivor)
    assert figures(first, first.publisher.published + survivor.publisher.published) == figures(single, single.publisher.published)


async def test_the_fence_outlasts_two_of_the_largest_batches() -> None:
    """A commit that failed is retried with the next poll's: a restart may redeliver two polls' events."""
    store = MemoryStore()
    engine = MonitorEngine(CONFIG, store=store, embedder=None, batch_max=4000)

    async def count(monitor, fresh):  # type: ignore[no-untyped-def]
        return len(fresh), {}

    polls = [[f"{n}-{i}" for i in range(4000)] for n in range(3)]
    for poll in polls:
        assert await engine.apply(KEY, poll, count) == (4000, set(poll))
    for poll in polls[1:]:  # restarted after the first poll's commit: the two others come again
        assert await engine.apply(KEY, poll, count) == (None, set())
        assert await MonitorEngine(CONFIG, store=store, embedder=None, batch_max=4000).apply(KEY, poll, count) == (None, set())


def test_the_stored_fence_keeps_ids_that_hold_client_text() -> None:
    ids = ["fb:r 1:science fiction:label", 'fb:"quoted",id:x:y', "fb:ünï:\\n:z", "e3b0c442-98fc-1c14-9afb-f4c8996fb924"]
    stored = fence_to_stored(ids)
    assert isinstance(stored, str)
    assert fence_from_stored(stored) == ids
    assert fence_from_stored(ids) == ids and fence_from_stored(None) == [] and fence_from_stored("") == []


async def test_two_replicas_on_one_model_never_both_advance_it() -> None:
    batches = traffic_batches()
    a = make_ports()
    b = replica(a)
    for i, batch in enumerate(batches):  # a rebalance storm: the model flips owner every batch
        await record_predictions(batch, ports=a if i % 2 else b)
        await record_predictions(batch, ports=b if i % 2 else a)  # and each batch is delivered twice
    single = make_ports()
    for batch in batches:
        await record_predictions(batch, ports=single)
    assert figures(a, a.publisher.published + b.publisher.published) == figures(single, single.publisher.published)


def test_the_join_is_shared() -> None:
    assert isinstance(make_ports().join, MemoryJoin)
