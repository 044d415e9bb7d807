"""The pool student: self-training corrects a noisy teacher; the refresh chooses it by CV and serves it."""

import random

import numpy as np
from claystream_trainer.domain.ports import StoredRecord
from claystream_trainer.domain.serving_head import ServingHead, as_serving_head
from claystream_trainer.domain.student import StudentConfig, count_rows, fit_vocabulary, self_train
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.embedding_worker import EmbeddingWorker
from claystream_trainer.services.pool_rows import PoolRowCache
from claystream_trainer.services.pool_student import StudentSetup
from claystream_trainer.services.predict import predict
from claystream_trainer.services.refresh import run_refresh

from .corpus import sample
from .test_training_loop import DS, make_ports, seed, spec_for


def test_self_training_beats_the_noisy_teacher_that_taught_it():
    classes = ["negative", "positive"]
    rows = sample(classes, 600, seed=3)
    labelled, pool = rows[:20], rows[20:]
    truth = np.array([label for _, _, label in pool])
    rng = random.Random(0)
    # a teacher right on 65% of the pool, and unsure: confidence 0.55-0.75 whatever it says
    teacher = np.zeros((len(pool), 2))
    for i, label in enumerate(truth):
        said = label if rng.random() < 0.65 else ("negative" if label == "positive" else "positive")
        confidence = rng.uniform(0.55, 0.75)
        teacher[i, classes.index(said)] = confidence
        teacher[i, 1 - classes.index(said)] = 1 - confidence
    teacher_accuracy = (np.asarray(classes)[teacher.argmax(1)] == truth).mean()
    counts = count_rows([t for _, t, _ in rows])
    vocabulary = fit_vocabulary(counts, min_df=2)
    model = self_train(vocabulary.weigh(counts[:20]), [label for _, _, label in labelled],
                       vocabulary.weigh(counts[20:]), teacher, classes, StudentConfig())
    student_accuracy = (model.predict(vocabulary.weigh(counts[20:])) == truth).mean()
    assert teacher_accuracy < 0.7
    assert student_accuracy > 0.95


def test_old_artifacts_holding_a_bare_head_still_serve():
    from sklearn.linear_model import LogisticRegression

    bare = LogisticRegression().fit(np.array([[0.0], [1.0], [0.1], [0.9]]), ["a", "b", "a", "b"])
    head = as_serving_head(bare)
    assert isinstance(head, ServingHead) and head.component() == "embedding"
    assert head.needs_vectors("student")  # no student to fall back on
    assert list(head.probabilities(vectors=np.array([[1.0]])).argmax(1)) == [1]


async def test_refresh_trains_the_student_serves_it_and_suggests_every_pending_record(tmp_path):
    ports = make_ports(tmp_path)
    labels = ["LOC", "HUM", "NUM"]
    ports.specs.specs[DS] = spec_for(DS, labels)
    rows = await seed(ports, labels, 24, 300)
    champions = ChampionCache(ports, ttl_s=60)
    assert await EmbeddingWorker(ports, champions, batch_size=64, flush_s=0).fill(DS) == 324
    late = [StoredRecord(f"late-{i}", text) for i, text in enumerate(["where is the river", "who is the author"])]
    await ports.records.upsert_texts(DS, late)  # pending, but not embedded yet
    setup = StudentSetup(config=StudentConfig(min_pool=100), rows=PoolRowCache())
    outcome = await run_refresh(DS, ports.specs.specs[DS], ports=ports, champions=champions, base_model="hashing",
                                student=setup)
    entry = outcome.entry
    assert set(entry.metrics["components"]) == {"embedding", "student"}
    assert entry.params["student"]["pool"] == 300  # the embedded pending records teach it
    assert entry.params["serves"] == entry.metrics["serves"] == "student"  # the CV tie goes to the student
    published = {e.data.record_id: e.data.label for e in ports.publisher.of_type("suggestion.created")}
    assert set(published) == {r for r, _, _ in rows[24:]} | {"late-0", "late-1"}  # text is enough
    assert published["late-0"] == "LOC" and published["late-1"] == "HUM"
    served = ChampionCache(ports, ttl_s=0)
    result = await predict(DS, ["how many years", "who was the president"], champions=served)
    assert result.component == "student" and [p.label for p in result.predictions] == ["NUM", "HUM"]
    shadow = await predict(DS, ["how many years"], champions=served, component="embedding")
    assert shadow.component == "embedding" and shadow.predictions[0].label == "NUM"


async def test_a_small_pool_keeps_the_embedding_head(tmp_path):
    ports = make_ports(tmp_path)
    await seed(ports, ["positive", "negative"], 10, 20)
    champions = ChampionCache(ports, ttl_s=60)
    await EmbeddingWorker(ports, champions, batch_size=64, flush_s=0).fill(DS)
    outcome = await run_refresh(DS, ports.specs.specs[DS], ports=ports, champions=champions, base_model="hashing",
                                student=StudentSetup(config=StudentConfig(min_pool=100), rows=PoolRowCache()))
    assert outcome.entry.params["serves"] == "embedding" and "components" not in outcome.entry.metrics
    assert outcome.suggestions == 20


async def test_a_finetune_carries_the_student_and_a_new_body_retrains_it(tmp_path):
    from claystream_trainer.services.finetune import run_finetune

    from .test_training_loop import FakeFineTuner

    class RecordingFineTuner(FakeFineTuner):
        def finetune(self, texts, labels, params, progress, work_dir=None):  # type: ignore[no-untyped-def]
            self.seen = list(zip(texts, labels, strict=True))
            return super().finetune(texts, labels, params, progress, work_dir)

    tuner = RecordingFineTuner()
    ports = make_ports(tmp_path, finetuner=tuner)
    rows = await seed(ports, ["positive", "negative"], 20, 150)
    champions = ChampionCache(ports, ttl_s=60)
    stale: list[object] = []
    worker = EmbeddingWorker(ports, champions, batch_size=64, flush_s=0, on_stale_student=stale.append)
    await worker.fill(DS)
    setup = StudentSetup(config=StudentConfig(min_pool=100), rows=PoolRowCache())
    await run_refresh(DS, None, ports=ports, champions=champions, base_model="hashing", student=setup)
    outcome = await run_finetune(DS, None, ports=ports, champions=champions, params=None, holdout=0.2,
                                 base_model="hashing", student=setup, pseudo_labels=40)
    # 16 labels of the training part (20 minus the hold-out) + 40 confident pending records with a student's labels
    extra = outcome.entry.params["pseudo_labels"]
    assert 38 <= extra <= 40 and len(tuner.seen) == 16 + extra
    truth = {text: label for _, text, label in rows}
    assert sum(truth[text] == label for text, label in tuner.seen[16:]) >= extra - 2
    # judged against what the champion serves (its student, taught by the same training part), not its body's head
    compared = outcome.entry.metrics
    assert "champion_body_on_same_split" in compared and compared["champion_on_same_split"]["accuracy"] == 1.0
    assert not outcome.promoted
    carried = as_serving_head(ports.artifacts.load_head(outcome.entry.artifact_path, outcome.entry.sha256))
    assert carried.student is not None and carried.serves == "student"  # served until its own student exists

    await ports.records.upsert_texts(DS, [StoredRecord("new-1", "great superb film")])
    assert await worker.fill(DS) == 1 and stale == []  # same body as the student's teacher: nothing to redo
    champion = await champions.get(DS)
    assert champion is not None and champion.head.student is not None
    champion.head.student.teacher_key = "an-older-body"  # as after a fine-tuned body is promoted
    await ports.records.upsert_texts(DS, [StoredRecord("new-2", "awful boring film")])
    assert await worker.fill(DS) == 1 and stale == [DS]


async def test_a_fine_tuned_body_is_judged_on_the_labels_it_never_saw(tmp_path):
    from claystream_trainer.domain.ports import ModelEntry
    from claystream_trainer.services.refresh import evaluation_splits
    from claystream_trainer.services.training_data import load_training_data

    ports = make_ports(tmp_path)
    rows = await seed(ports, ["positive", "negative"], 30, 0)
    data = await load_training_data(DS, ports.specs.specs[DS], ports=ports)

    async def body_trained_on(ids):  # type: ignore[no-untyped-def]
        entry = ModelEntry(version=f"v{len(ids)}", workspace=DS.workspace, dataset=DS.dataset, kind="finetune",
                           status="champion", label_count=30, labels=["positive", "negative"], question="label",
                           text_field="text", base_model="hashing", body_ref="self", body_key="k",
                           params={"trained_on": ids})
        await ports.registry.add(entry)
        return entry.version

    assert await evaluation_splits(DS, "base", data, ports=ports) == (None, None, False)
    seen = [r for r, _, _ in rows[:18]]
    splits, protocol, biased = await evaluation_splits(DS, await body_trained_on(seen), data, ports=ports)
    assert splits is not None and not biased and protocol == "labels the fine-tuned body never saw (12)"
    assert {data.record_ids[i] for i in splits[0].train} == set(seen)
    assert {data.record_ids[i] for i in splits[0].test} == {r for r, _, _ in rows[18:30]}
    # almost every label went into the body: no fair comparison left, so the student is preferred
    splits, protocol, biased = await evaluation_splits(DS, await body_trained_on([r for r, _, _ in rows[:25]]),
                                                       data, ports=ports)
    assert splits is None and protocol is None and biased
