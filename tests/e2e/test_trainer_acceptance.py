"""The trainer's acceptance path through annotate's HTTP API (ingest, annotate and trainer in-process, real
embedded Kafka / MongoDB / Redis, the tiny hashing embedder):

labels submitted as an annotator's responses cross the threshold → a model version is registered with
metrics → suggestions from that version appear on the pending records in annotate → predict answers with
that version; then a fine-tune crashes mid-training: no fine-tuned version is registered, a champion stays,
the lock is free, predict still answers with the champion and the next run takes the lock.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from claystream_common.datasets import record_id_for

from .conftest import eventually, three_services

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WORKSPACE = "acceptance"
WORDS = {"positive": ["wonderful", "brilliant", "moving", "superb", "loved"],
         "negative": ["boring", "terrible", "dull", "awful", "hated"]}
FILLER = ["the", "film", "a", "cast", "plot", "was", "and", "story", "this", "ending", "acting", "music"]


class CrashingFineTuner:
    """Reports one step of progress, then dies like a trainer process running out of memory."""

    def finetune(self, texts: list[str], labels: list[str], params: Any, progress: Any, work_dir: Any = None) -> Any:
        progress(1, 40, 60.0)
        raise MemoryError("killed mid-training (simulated)")


def suggestion(record: dict[str, Any]) -> dict[str, Any]:
    return next((s for s in record.get("suggestions") or [] if s.get("question") == "sentiment"), {})


def corpus(n: int) -> list[tuple[str, str, str]]:
    rng = random.Random(5)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words = rng.sample(WORDS[label], 2) + rng.sample(FILLER, 5)
        rng.shuffle(words)
        rows.append((f"rec-{i}", " ".join(words), label))
    return rows


async def test_labels_through_annotate_train_suggest_serve_and_survive_a_crash(embedded_stack, unique_name, tmp_path):
    db, dataset = unique_name, "reviews"
    rows = corpus(72)
    labelled, pending = rows[:12], rows[12:]
    async with three_services(embedded_stack, db, WORKSPACE, tmp_path / "models", finetuner=CrashingFineTuner(),
                              student_min_pool="40", lock_lease_s="3") as svc:
        annotate, ingest, trainer = svc["annotate"].client, svc["ingest"].client, svc["trainer"].client
        body = {"name": dataset, "fields": [{"name": "text"}],
                "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
                "trainer": {"refresh_every": 4, "min_per_label": 2, "finetune_every": 1000}}
        assert (await annotate.post(f"/api/v1/workspaces/{WORKSPACE}/datasets", json=body)).status_code == 201
        items = [{"external_id": key, "fields": {"text": text}} for key, text, _ in rows]
        assert (await ingest.post(f"/api/v1/datasets/{dataset}/records:bulk", json={"items": items})).status_code == 202
        records_url = f"/api/v1/workspaces/{WORKSPACE}/datasets/{dataset}/records"

        async def stored_and_embedded() -> bool:
            listed = (await annotate.get(records_url, params={"limit": 100})).json()
            status = (await trainer.get(f"/api/v1/models/{dataset}/status")).json()
            return len(listed["items"]) == len(rows) and status.get("embedded_records", 0) >= len(rows)

        await eventually(stored_and_embedded, timeout_s=60, what="records stored in annotate and embedded by the trainer")

        for key, _, label in labelled:  # the annotator's submits, through annotate's API
            answer = await annotate.put(f"{records_url}/{record_id_for(WORKSPACE, dataset, key)}/response",
                                        json={"status": "submitted", "values": {"sentiment": label}})
            assert answer.status_code == 200, answer.text

        async def champion_on_every_label() -> dict[str, Any] | None:
            models = (await trainer.get(f"/api/v1/models/{dataset}")).json()
            best = next((m for m in models["items"] if m["version"] == models["champion"]), None)
            return best if best and best["label_count"] == len(labelled) else None

        champion = await eventually(champion_on_every_label, timeout_s=60, what="a champion trained on all 12 labels")
        metrics = champion["metrics"]
        assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "protocol"} <= set(metrics), metrics
        assert set(metrics["per_class"]) == {"positive", "negative"} and metrics["accuracy"] >= 0.75
        assert set(metrics["components"]) == {"embedding", "student"}, metrics  # 60 pending ≥ the pool minimum
        version = champion["version"]

        async def suggested_everywhere() -> list[dict[str, Any]] | None:
            listed = (await annotate.get(records_url, params={"limit": 100, "status": "pending"})).json()["items"]
            fresh = [r for r in listed if suggestion(r).get("model_version") == version]
            return listed if len(listed) == len(pending) and len(fresh) == len(pending) else None

        listed = await eventually(suggested_everywhere, timeout_s=60, what=f"suggestions of {version} on every pending record")
        truth = {record_id_for(WORKSPACE, dataset, key): label for key, _, label in pending}
        right = sum(suggestion(r)["value"] == truth[r["id"]] for r in listed)
        assert right >= 0.8 * len(pending), f"{right}/{len(pending)} suggestions right"

        answer = await trainer.post(f"/api/v1/models/{dataset}/predict", json={"text": "a wonderful, brilliant film"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == version and answer.json()["label"] == "positive"
        assert answer.json()["component"] in {"embedding", "student"}

        # a fine-tune dies mid-training: training.failed, champion kept, lock free, predict unchanged
        assert (await trainer.post(f"/api/v1/models/{dataset}/train", json={"kind": "finetune"})).status_code == 202
        redis = svc["trainer"].app.state.deps.redis

        async def failed_and_unlocked() -> bool:
            scheduler = svc["trainer"].app.state.deps.scheduler
            failed = any("MemoryError" in f for f in scheduler.failures)
            return failed and await redis.get(f"trainer:lock:{WORKSPACE}:{dataset}") is None

        await eventually(failed_and_unlocked, timeout_s=60, what="the crashed fine-tune to fail and free the lock")
        models = (await trainer.get(f"/api/v1/models/{dataset}")).json()
        # a fine-tune starts with a fast refresh (fresh suggestions at once), then trains the body: the crash
        # registered nothing, and the champion is that refresh (or the earlier one)
        assert all(m["kind"] == "refresh" for m in models["items"]), models
        version = models["champion"]
        assert version is not None
        again = await trainer.post(f"/api/v1/models/{dataset}/predict", json={"text": "dull and boring, I hated it"})
        assert again.json()["model_version"] == version and again.json()["label"] == "negative"
        retrain = await trainer.post(f"/api/v1/models/{dataset}/train", json={"kind": "refresh"})
        assert retrain.status_code == 202  # the lock is takeable: a new run lands

        async def new_version() -> bool:
            return (await trainer.get(f"/api/v1/models/{dataset}")).json()["champion"] != version

        await eventually(new_version, timeout_s=30, what="a refresh after the crash")
