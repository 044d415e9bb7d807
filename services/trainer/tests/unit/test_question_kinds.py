"""Which question the trainer learns and how: multi-label (one-vs-rest), ratings (ordered classes), and
questions it cannot learn (never trained)."""

import random
import uuid

from claystream_common.datasets import DatasetSpec
from claystream_common.events import ResponseChanged, new_event
from claystream_trainer.domain.multilabel import multilabel_metrics
from claystream_trainer.domain.ports import DatasetKey, StoredRecord
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.embedding_worker import EmbeddingWorker
from claystream_trainer.services.labels import record_label
from claystream_trainer.services.predict import predict
from claystream_trainer.services.refresh import run_refresh
from claystream_trainer.services.scheduler import SchedulerConfig, TrainingScheduler, read_counts
from claystream_trainer.services.training_data import training_target

from .corpus import FILLER, WORDS
from .fakes import make_ports

DS = DatasetKey("acme", "movies")
GENRES = ["LOC", "HUM", "NUM"]


def spec_with(*questions: dict, **trainer) -> DatasetSpec:  # type: ignore[no-untyped-def]
    return DatasetSpec.model_validate({"id": "d1", "workspace": DS.workspace, "name": DS.dataset,
                                       "fields": [{"name": "text"}], "questions": list(questions),
                                       "trainer": trainer})


MULTI = {"name": "genres", "type": "multi_label", "labels": GENRES}
RATING = {"name": "stars", "type": "rating", "rating_max": 3}
TEXT = {"name": "notes", "type": "text"}


def answer(record_id: str, values: dict, *, user: str = "u1"):  # type: ignore[no-untyped-def]
    data = ResponseChanged(response_id=f"{record_id}:{user}", record_id=record_id, user_id=user, status="submitted",
                           values=values, version=1)
    return new_event("response.submitted", data, dataset=DS.dataset, workspace=DS.workspace, event_id=uuid.uuid4())


def multi_rows(n: int, *, seed: int = 0) -> list[tuple[str, str, tuple[str, ...]]]:
    """(record_id, text, genres): one or two genres per text, each genre's words in the text."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        genres = tuple(sorted(rng.sample(GENRES, 1 + (i % 2))))
        words = [w for g in genres for w in rng.sample(WORDS[g], 2)] + rng.sample(FILLER, 3)
        rng.shuffle(words)
        rows.append((f"m{seed}-{i}", " ".join(words), genres))
    return rows


def scheduler_for(ports):  # type: ignore[no-untyped-def]
    runs = []

    async def runner(dataset, kind, run_id):  # type: ignore[no-untyped-def]
        runs.append(kind)
        return await run_refresh(dataset, await ports.specs.get(dataset), ports=ports,
                                 champions=ChampionCache(ports, ttl_s=60), base_model="hashing", run_id=run_id)

    return TrainingScheduler(ports, runner, SchedulerConfig(debounce_s=0, lease_s=30, finetune_enabled=True)), runs


def test_the_trained_question_and_how():
    assert training_target(spec_with(TEXT)) is None
    assert training_target(spec_with(TEXT, MULTI, question="notes")) is None  # the settings name a text question
    multi = training_target(spec_with(TEXT, MULTI))
    assert multi is not None and (multi.question, multi.kind, multi.labels) == ("genres", "multi_label", GENRES)
    assert multi.label_of(["NUM", "LOC", "NUM"]) == ("LOC", "NUM") and multi.label_of("LOC") is None
    assert not multi.knows(("LOC", "ROM"))
    rating = training_target(spec_with(RATING))
    assert rating is not None and (rating.kind, rating.labels) == ("ordinal", ["1", "2", "3"])
    label = {"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}
    first_label = training_target(spec_with(RATING, MULTI, label))  # a label question trains first, as before
    assert first_label is not None and (first_label.question, first_label.kind) == ("sentiment", "single_label")
    assert training_target(spec_with(RATING, MULTI)).question == "genres"  # type: ignore[union-attr]
    assert training_target(spec_with(RATING, MULTI, question="stars")).kind == "ordinal"  # type: ignore[union-attr]


async def test_a_dataset_without_a_trainable_question_is_never_trained(tmp_path):
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_with(TEXT, refresh_every=1, min_per_label=1)
    await ports.records.upsert_texts(DS, [StoredRecord(f"r{i}", f"text {i}") for i in range(6)])
    for i in range(6):
        await record_label(answer(f"r{i}", {"notes": ["a", "b"][i % 2]}), ports=ports)
    scheduler, runs = scheduler_for(ports)
    assert await scheduler.check_and_run(DS) is None
    assert await scheduler.check_and_run(DS, force="refresh") is None
    assert runs == [] and await ports.registry.champion(DS) is None
    assert (await ports.counters.read(DS) or {}).get("refresh", 0) == 0  # nothing learnable was counted


async def test_multi_label_trains_one_vs_rest_suggests_label_lists_and_predicts_labels(tmp_path):
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_with(TEXT, MULTI, refresh_every=4)
    rows = multi_rows(60)
    labelled, pending = rows[:40], rows[40:]
    await ports.records.upsert_texts(DS, [StoredRecord(r, t) for r, t, _ in rows])
    for record_id, _, genres in labelled:
        await record_label(answer(record_id, {"genres": list(genres), "notes": "x"}), ports=ports)
    counts = await read_counts(DS, ports=ports)
    assert counts.per_class == {g: sum(g in s for _, _, s in labelled) for g in GENRES}
    champions = ChampionCache(ports, ttl_s=60)
    await EmbeddingWorker(ports, champions, batch_size=16, flush_s=0).fill(DS)
    scheduler, runs = scheduler_for(ports)
    outcome = await scheduler.check_and_run(DS)
    assert runs == ["refresh"] and outcome is not None and outcome.promoted
    metrics = outcome.entry.metrics
    assert {"micro_f1", "macro_f1", "samples_f1", "hamming_loss"} <= set(metrics)
    assert metrics["micro_f1"] > 0.8 and metrics["hamming_loss"] < 0.15 and set(metrics["per_class"]) == set(GENRES)
    assert outcome.entry.params["training_kind"] == "multi_label" and outcome.entry.labels == GENRES
    published = {e.data.record_id: e.data for e in ports.publisher.of_type("suggestion.created")}
    assert set(published) == {r for r, _, _ in pending}
    truth = {r: g for r, _, g in pending}
    assert all(isinstance(s.label, list) and s.question == "genres" and set(s.scores) == set(GENRES)
               for s in published.values())
    assert multilabel_metrics(list(truth.values()), [published[r].label for r in truth], GENRES)["micro_f1"] > 0.8
    result = await predict(DS, ["who was the president and author", "where is the city located"],
                           champions=ChampionCache(ports, ttl_s=0), publisher=ports.publisher, forward=True)
    assert [set(p.labels or []) for p in result.predictions] == [{"HUM"}, {"LOC"}]
    assert result.predictions[0].label == "HUM" and set(result.predictions[0].scores) == set(GENRES)
    logged = ports.publisher.of_type("prediction.logged")
    assert [e.data.predicted_labels for e in logged] == [p.labels for p in result.predictions]


async def test_multi_label_is_due_early_and_fine_tunes_like_single_label():
    from claystream_common.datasets import TrainerSettings

    from claystream_trainer.domain.thresholds import LabelCounts, decide

    counts = LabelCounts(per_class={"LOC": 70, "HUM": 70}, new_since_refresh=70, new_since_finetune=70)
    assert decide(counts, TrainerSettings(), GENRES, has_champion=True, multi_label=True) == "finetune"
    early = LabelCounts(per_class={"LOC": 2, "HUM": 2}, new_since_refresh=3)
    assert decide(early, TrainerSettings(), GENRES, has_champion=False, multi_label=True) == "refresh"
    assert decide(early, TrainerSettings(), GENRES, has_champion=False) is None  # single-label: every label first


class SetFitLikeTuner:
    """Records what the fine-tune was given; the 'trained' body is a plain folder (the fakes' bodies hash)."""

    def __init__(self) -> None:
        self.labels: list = []

    def finetune(self, texts, labels, params, progress, work_dir=None):  # type: ignore[no-untyped-def]
        import tempfile
        from dataclasses import dataclass

        @dataclass
        class Result:
            body_dir: str
            params: dict

        self.labels = list(labels)
        progress(1, 1, 0.0)
        directory = tempfile.mkdtemp()
        with open(f"{directory}/weights.bin", "wb") as handle:
            handle.write(b"body")
        return Result(body_dir=directory, params={"max_steps": 1})


async def test_multi_label_fine_tune_trains_on_label_sets_and_is_judged_on_the_same_hold_out(tmp_path):
    from claystream_trainer.services.finetune import run_finetune

    tuner = SetFitLikeTuner()
    ports = make_ports(tmp_path, finetuner=tuner)
    ports.specs.specs[DS] = spec_with(TEXT, MULTI)
    rows = multi_rows(50)
    await ports.records.upsert_texts(DS, [StoredRecord(r, t) for r, t, _ in rows])
    for record_id, _, genres in rows[:40]:
        await record_label(answer(record_id, {"genres": list(genres)}), ports=ports)
    champions = ChampionCache(ports, ttl_s=60)
    await run_refresh(DS, ports.specs.specs[DS], ports=ports, champions=champions, base_model="hashing")
    outcome = await run_finetune(DS, ports.specs.specs[DS], ports=ports, champions=champions, params=None,
                                 holdout=0.2, base_model="hashing")
    assert len(tuner.labels) == 32 and all(isinstance(label, tuple) for label in tuner.labels)  # 80 % of 40
    entry = outcome.entry
    assert entry.kind == "finetune" and entry.params["training_kind"] == "multi_label"
    assert entry.metrics["protocol"] == "hold-out" and entry.metrics["n_eval"] == 8
    assert entry.metrics["champion_on_same_split"]["n_eval"] == 8 and len(entry.params["trained_on"]) == 32
    # the fake body embeds like the champion's: equal on the same hold-out, so no promotion (strict gain only)
    assert not outcome.promoted and (await ports.registry.champion(DS)).version == "v1"


async def test_ratings_train_as_ordered_classes_and_suggest_integers(tmp_path):
    ports = make_ports(tmp_path)
    ports.specs.specs[DS] = spec_with(TEXT, RATING)
    rng = random.Random(1)
    words = {1: WORDS["negative"], 2: WORDS["NUM"], 3: WORDS["positive"]}
    rows = [(f"s{i}", " ".join(rng.sample(words[1 + i % 3], 2) + rng.sample(FILLER, 3)), 1 + i % 3) for i in range(36)]
    await ports.records.upsert_texts(DS, [StoredRecord(r, t) for r, t, _ in rows])
    for record_id, _, stars in rows[:24]:
        await record_label(answer(record_id, {"stars": stars}), ports=ports)
    champions = ChampionCache(ports, ttl_s=60)
    await EmbeddingWorker(ports, champions, batch_size=16, flush_s=0).fill(DS)
    outcome = await run_refresh(DS, ports.specs.specs[DS], ports=ports, champions=champions, base_model="hashing")
    assert outcome.entry.labels == ["1", "2", "3"] and outcome.entry.params["training_kind"] == "ordinal"
    published = ports.publisher.of_type("suggestion.created")
    assert len(published) == 12 and all(isinstance(e.data.label, int) for e in published)
    assert sum(e.data.label == dict((r, s) for r, _, s in rows)[e.data.record_id] for e in published) >= 10


def test_a_multi_label_head_never_predicts_more_labels_than_its_largest_answer():
    """18 answers of one to three genres out of 19 and embeddings with no signal: the threshold that maximised
    micro-F1 let every label pass, and the first model pre-ticked 8 to 13 genres on every record."""
    import numpy as np
    from claystream_trainer.domain.multilabel import OneVsRestHead, cross_validate_and_fit

    rng = np.random.default_rng(7)
    labels = [f"g{i}" for i in range(19)]
    answers = [sorted(rng.choice(labels, size=1 + i % 3, replace=False).tolist()) for i in range(18)]
    metrics, head = cross_validate_and_fit(rng.normal(size=(18, 16)), answers, labels, seed=42)
    chosen = head.decide(head.predict_proba(rng.normal(size=(200, 16))))
    assert head.max_labels == 3 and max(len(c) for c in chosen) <= 3 and min(len(c) for c in chosen) >= 1
    assert metrics["threshold"] in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
    old = OneVsRestHead(labels, threshold=0.1)  # a head pickled before the cap decides as it did
    del old.max_labels
    old._models, old.min_labels = head._models, 1
    assert max(len(c) for c in old.decide(head.predict_proba(rng.normal(size=(50, 16))))) > 3
