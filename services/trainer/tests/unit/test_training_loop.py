"""Use cases over fake ports: labels → counters → scheduler → refresh → registry, suggestions, predict."""

import asyncio
import shutil
import tempfile
import uuid
from dataclasses import dataclass

import pytest
from claystream_common.events import ResponseChanged, new_event
from claystream_trainer.domain.ports import DatasetKey, StoredRecord
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.embedding_worker import EmbeddingWorker
from claystream_trainer.services.finetune import run_finetune
from claystream_trainer.services.labels import record_label
from claystream_trainer.services.predict import NoChampion, predict
from claystream_trainer.services.refresh import NotEnoughLabels, run_refresh
from claystream_trainer.services.scheduler import SchedulerConfig, TrainingScheduler, read_counts

from .corpus import sample
from .fakes import make_ports as make_fake_ports
from .fakes import spec_for

DS = DatasetKey("acme", "reviews")


def make_ports(tmp_path, **options):  # type: ignore[no-untyped-def]
    """The fakes, with the dataset document of DS in place (tests with other labels replace it)."""
    ports = make_fake_ports(tmp_path, **options)
    ports.specs.specs[DS] = spec_for(DS, ["positive", "negative"])
    return ports


def label_event(record_id: str, label: str, *, user: str = "u1", version: int = 1, event_id=None, kind="submitted"):
    data = ResponseChanged(response_id=f"{record_id}:{user}", record_id=record_id, user_id=user,
                           status="discarded" if kind == "discarded" else "submitted", values={"label": label},
                           version=version)
    return new_event(f"response.{kind}", data, dataset=DS.dataset, workspace=DS.workspace,
                     event_id=event_id or uuid.uuid4())


async def seed(ports, labels, n_labelled, n_pending, *, seed_=0):
    rows = sample(labels, n_labelled + n_pending, seed=seed_)
    await ports.records.upsert_texts(DS, [StoredRecord(r, t) for r, t, _ in rows])
    for record_id, _, label in rows[:n_labelled]:
        await record_label(label_event(record_id, label), ports=ports)
    return rows


async def test_label_counted_once_per_event_id_and_old_versions_ignored(tmp_path):
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_for(DS, ["positive", "negative"])
    event = label_event("r1", "positive", version=2)
    await record_label(event, ports=ports)
    await record_label(event, ports=ports)  # redelivery
    await record_label(label_event("r1", "negative", version=1), ports=ports)  # late, older answer
    await record_label(label_event("r2", "maybe"), ports=ports)  # not a label of the question
    assert await ports.counters.read(DS) == {"refresh": 1, "finetune": 1, "class:positive": 1}
    assert (await ports.labels.labelled(DS))["r1"] == "positive"  # "maybe" is stored, never learnt


async def test_counters_rebuilt_from_mongo_when_redis_lost_them(tmp_path):
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_for(DS, ["positive", "negative"])
    await seed(ports, ["positive", "negative"], 6, 0)
    ports.counters.hashes.clear()
    counts = await read_counts(DS, ports=ports)
    assert counts.new_since_refresh == 6 and counts.per_class == {"positive": 3, "negative": 3}


async def test_events_for_an_unknown_dataset_are_poison(tmp_path):
    from claystream_common.errors import PermanentError

    ports = make_ports(tmp_path)
    ports.specs.specs.clear()
    with pytest.raises(PermanentError, match="unknown dataset"):
        await seed(ports, ["positive", "negative"], 2, 0)
    assert ports.counters.hashes == {}


async def test_refresh_registers_promotes_suggests_and_serves(tmp_path):
    ports = make_ports(tmp_path)
    labels = ["LOC", "HUM", "NUM"]  # not two sentiment labels: any label set works
    ports.specs.specs[DS] = spec_for(DS, labels)
    rows = await seed(ports, labels, 24, 30)
    champions = ChampionCache(ports, ttl_s=60)
    worker = EmbeddingWorker(ports, champions, batch_size=16, flush_s=0)
    assert await worker.fill(DS) == 54  # the background cache: every record, before any model exists
    other = DatasetKey("acme", "other")
    await ports.records.upsert_texts(other, [StoredRecord("o1", "a river"), StoredRecord("o2", "an inventor")])
    assert await worker.fill(other) == 2
    assert worker.covered == {DS: 54, other: 2}  # per dataset (the status route's figure), not the process's total
    assert await worker.fill(DS) == 0 and worker.covered[DS] == 54  # nothing left to embed: still covered
    assert ports.publisher.of_type("suggestion.created") == []
    outcome = await run_refresh(DS, ports.specs.specs[DS], ports=ports, champions=champions, base_model="hashing")
    entry = outcome.entry
    assert outcome.promoted and entry.status == "champion" and entry.version == "v1"
    assert entry.label_count == 24 and entry.labels == labels
    assert entry.metrics["accuracy"] > 0.8 and set(entry.metrics["per_class"]) == set(labels)
    assert "cv" in entry.metrics["protocol"] and len(entry.sha256) == 64
    published = ports.publisher.of_type("suggestion.created")
    assert outcome.suggestions == len(published) == 30
    by_record = {e.data.record_id: e.data for e in published}
    truth = {r: label for r, _, label in rows[24:]}
    assert set(by_record) == set(truth)
    assert sum(by_record[r].label == truth[r] for r in truth) >= 25
    assert all(0.0 <= s.priority <= 1.0 and s.model_version == "v1" for s in by_record.values())
    assert [e.data.model_version for e in ports.publisher.of_type("model.promoted")] == ["v1"]
    result = await predict(DS, ["where is the river located", "who was the inventor"], champions=ChampionCache(ports, ttl_s=0))
    assert result.model_version == "v1" and [p.label for p in result.predictions] == ["LOC", "HUM"]
    # records arriving after the model: the worker embeds them and suggests right away
    await ports.records.upsert_texts(DS, [StoredRecord("late", "how many years")])
    assert await worker.fill(DS) == 1
    assert ports.publisher.of_type("suggestion.created")[-1].data.record_id == "late"


async def test_refresh_refuses_without_two_examples_per_class(tmp_path):
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_for(DS, ["positive", "negative"])
    await seed(ports, ["positive", "negative"], 3, 0)
    with pytest.raises(NotEnoughLabels):
        await run_refresh(DS, None, ports=ports, champions=ChampionCache(ports, ttl_s=60), base_model="hashing")


async def test_predict_without_champion_and_corrupt_artifact_keeps_champion(tmp_path):
    ports = make_ports(tmp_path)
    champions = ChampionCache(ports, ttl_s=0)
    with pytest.raises(NoChampion):
        await predict(DS, ["x"], champions=champions)
    await seed(ports, ["positive", "negative"], 10, 0)
    first = await run_refresh(DS, None, ports=ports, champions=champions, base_model="hashing")
    await seed(ports, ["positive", "negative"], 10, 0, seed_=1)
    second = await run_refresh(DS, None, ports=ports, champions=ChampionCache(ports, ttl_s=0), base_model="hashing")
    assert second.entry.version == "v2"
    (tmp_path / DS.workspace / DS.dataset / "v2" / "head.joblib").write_bytes(b"tampered")
    result = await predict(DS, ["great"], champions=champions)  # registry says v2, its artifact is corrupt
    assert result.model_version == first.entry.version == "v1"
    assert "corrupt" in champions.load_errors[DS]


@dataclass
class FakeFinetuneResult:
    body_dir: str
    params: dict
    seconds: float = 0.1


class FakeFineTuner:
    """Writes a body directory; ``fail`` raises mid-training like a crashing trainer."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def finetune(self, texts, labels, params, progress, work_dir=None):
        self.calls += 1
        progress(1, 2, 1.0)
        if self.fail:
            raise RuntimeError("CUDA out of memory (simulated)")
        progress(2, 2, 0.0)
        directory = tempfile.mkdtemp()
        with open(f"{directory}/weights.bin", "wb") as handle:
            handle.write(b"body")
        return FakeFinetuneResult(body_dir=directory, params={"max_steps": 2})


async def test_finetune_must_strictly_beat_champion(tmp_path):
    ports = make_ports(tmp_path, finetuner=FakeFineTuner())
    await seed(ports, ["positive", "negative"], 20, 5)
    champions = ChampionCache(ports, ttl_s=60)
    await run_refresh(DS, None, ports=ports, champions=champions, base_model="hashing")
    outcome = await run_finetune(DS, None, ports=ports, champions=champions, params=None, holdout=0.2,
                                 base_model="hashing")
    # the fake body embeds exactly like the champion's: equal on the same split, so no promotion
    assert not outcome.promoted and outcome.entry.status == "candidate"
    assert outcome.entry.metrics["champion_on_same_split"] is not None
    assert (await ports.registry.champion(DS)).version == "v1"
    assert [e.data.step for e in ports.publisher.of_type("training.progress")][-1] == 2
    shutil.rmtree(tmp_path / "acme", ignore_errors=True)


async def test_scheduler_debounces_runs_once_and_survives_crash(tmp_path):
    ports = make_ports(tmp_path, finetuner=FakeFineTuner(fail=True))
    ports.specs.specs[DS] = spec_for(DS, ["positive", "negative"], refresh_every=4, finetune_every=30)
    champions = ChampionCache(ports, ttl_s=0)
    runs = []

    async def runner(dataset, kind, run_id):
        runs.append(kind)
        outcome = await run_refresh(dataset, ports.specs.specs[DS], ports=ports, champions=champions,
                                    base_model="hashing")
        if kind == "finetune":
            outcome = await run_finetune(dataset, ports.specs.specs[DS], ports=ports, champions=champions,
                                         params=None, holdout=0.2, base_model="hashing")
        return outcome

    scheduler = TrainingScheduler(ports, runner, SchedulerConfig(debounce_s=0.05, lease_s=5, finetune_enabled=True))
    rows = await seed(ports, ["positive", "negative"], 10, 0)
    for _ in range(5):
        scheduler.poke(DS)  # a burst of label events
    await asyncio.sleep(0.3)
    await scheduler.wait_idle()
    assert runs == ["refresh"] and (await ports.registry.champion(DS)).version == "v1"
    assert (await ports.counters.read(DS))["refresh"] == 0

    # lock held by another replica: nothing runs
    await seed(ports, ["positive", "negative"], 24, 0, seed_=2)
    ports.lock.held["acme:reviews"] = "other"
    assert await scheduler.check_and_run(DS) is None
    del ports.lock.held["acme:reviews"]

    # 34 new labels ≥ finetune_every: refresh (v2, promoted) then a fine-tune that crashes mid-training
    outcome = await scheduler.check_and_run(DS)
    assert outcome is None and runs[-1] == "finetune" and "simulated" in scheduler.failures[-1]
    assert (await ports.registry.champion(DS)).version == "v2"
    assert ports.lock.held == {}
    failed = ports.publisher.of_type("training.failed")
    assert failed and failed[-1].data.kind == "finetune"
    await scheduler.close()
    assert len(rows) == 10


class GatedRegistry:
    """The fake registry, whose champion lookup waits for ``gate``: a check that has read the counts
    and is still running."""

    def __init__(self, registry) -> None:  # type: ignore[no-untyped-def]
        self.inner = registry
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def champion(self, dataset):  # type: ignore[no-untyped-def]
        self.waiting.set()
        await self.gate.wait()
        return await self.inner.champion(dataset)

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


async def test_labels_that_arrive_while_a_check_runs_are_checked_again_when_it_ends(tmp_path):
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_for(DS, ["positive", "negative"], refresh_every=4, finetune_every=1000)
    await ports.counters.reset_to(DS, refresh=0, finetune=0)  # counters present: read without the registry
    gated = GatedRegistry(ports.registry)
    ports.registry = gated
    runs: list[str] = []

    async def runner(dataset, kind, run_id):  # type: ignore[no-untyped-def]
        runs.append(kind)
        return await run_refresh(dataset, ports.specs.specs[DS], ports=ports, champions=ChampionCache(ports, ttl_s=0),
                                 base_model="hashing")

    scheduler = TrainingScheduler(ports, runner, SchedulerConfig(debounce_s=0.02, lease_s=5, finetune_enabled=False))
    scheduler.poke(DS)  # e.g. records arrived: a check starts and reads the counts (no labels yet)
    await asyncio.wait_for(gated.waiting.wait(), 5)
    await seed(ports, ["positive", "negative"], 10, 0)  # the labels are counted right after
    scheduler.poke(DS)  # and their poke lands while that check is still running
    await asyncio.sleep(0.1)  # past the debounce
    gated.gate.set()  # the first check ends: nothing to train on by the counts it read
    for _ in range(100):
        await asyncio.sleep(0.02)
        await scheduler.wait_idle()
        if runs:
            break
    assert runs == ["refresh"], "the labels must not wait for the next event"
    await scheduler.close()


async def test_a_training_cut_off_by_a_stop_keeps_its_labels_and_the_next_start_runs_it(tmp_path):
    """A deploy during a refresh or fine-tune cancelled the run, and its labels were subtracted as if it had
    trained: no model came out, and the next one waited for refresh_every more labels.  Nor did a start check
    a training that was due: only a new label event poked the scheduler."""
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_for(DS, ["positive", "negative"], refresh_every=4, finetune_every=1000)
    await seed(ports, ["positive", "negative"], 10, 0)
    started, runs = asyncio.Event(), []

    async def endless(dataset, kind, run_id):  # type: ignore[no-untyped-def]
        started.set()
        await asyncio.sleep(3600)  # a fine-tune takes minutes

    first = TrainingScheduler(ports, endless, SchedulerConfig(debounce_s=0.01, lease_s=5, finetune_enabled=False))
    first.poke(DS)
    await asyncio.wait_for(started.wait(), 5)
    await first.close()  # the trainer's shutdown
    assert (await ports.counters.read(DS))["refresh"] == 10 and ports.lock.held == {}

    async def refresh(dataset, kind, run_id):  # type: ignore[no-untyped-def]
        runs.append(kind)
        return await run_refresh(dataset, ports.specs.specs[DS], ports=ports, champions=ChampionCache(ports, ttl_s=0),
                                 base_model="hashing")

    restarted = TrainingScheduler(ports, refresh, SchedulerConfig(debounce_s=0.01, lease_s=5, finetune_enabled=False))
    assert await restarted.resume() == 1  # no label event: the start itself checks
    for _ in range(200):
        await asyncio.sleep(0.02)
        if runs:
            break
    await restarted.wait_idle()
    assert runs == ["refresh"] and (await ports.registry.champion(DS)).version == "v1"
    assert (await ports.counters.read(DS))["refresh"] == 0
    await restarted.close()


async def test_a_training_asked_for_with_post_train_is_stopped_when_its_dataset_is_deleted(tmp_path):
    """POST /train started a loose task the scheduler did not know: deleting the dataset left it running; it failed on
    the dropped embedding cache, published training.failed for the deleted dataset and recreated its counters."""
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_for(DS, ["positive", "negative"], refresh_every=1000, finetune_every=1000)
    await seed(ports, ["positive", "negative"], 10, 0)
    started = asyncio.Event()

    async def endless(dataset, kind, run_id):  # type: ignore[no-untyped-def]
        started.set()
        await asyncio.sleep(3600)  # a fine-tune takes minutes

    scheduler = TrainingScheduler(ports, endless, SchedulerConfig(debounce_s=0.01, lease_s=5, finetune_enabled=True))
    task = scheduler.run_now(DS, "finetune")
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(scheduler.stop_dataset(DS), 5)  # what dataset.deleted does first
    assert task.done() and ports.lock.held == {}
    await scheduler.close()
