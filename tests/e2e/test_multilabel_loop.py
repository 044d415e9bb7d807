"""A multi-label dataset through the whole loop (ingest, annotate, trainer and monitor in-process, real
embedded Kafka / MongoDB / Redis, the tiny hashing embedder):

records through ingest → an annotator's multi-label answers through annotate's API → the trainer's
one-vs-rest champion with micro/macro/samples-F1 and Hamming loss → suggestions that are label lists on
every pending record in annotate → predict answers ``labels`` with per-label scores and forwards them →
the monitor stores the label sets, freezes each label's rate in its reference and checks it every window.
"""

from __future__ import annotations

import random
from contextlib import AsyncExitStack
from typing import Any

import pytest
from claystream_common.datasets import record_id_for

from .conftest import eventually, in_process, settings_for, three_services

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WORKSPACE = "multilabel"
WORDS = {"action": ["explosion", "chase", "gunfight", "heist", "battle"],
         "comedy": ["hilarious", "prank", "joke", "wacky", "laugh"],
         "romance": ["love", "kiss", "wedding", "heart", "affair"],
         "horror": ["ghost", "haunted", "blood", "scream", "demon"]}
FILLER = ["the", "film", "a", "story", "about", "town", "family", "night", "friends", "city", "young", "old"]


def corpus(n: int, *, seed: int = 3) -> list[tuple[str, str, list[str]]]:
    """(external id, overview, genres): one or two genres, two cue words of each."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        genres = sorted(rng.sample(sorted(WORDS), 1 + i % 2))
        words = [w for g in genres for w in rng.sample(WORDS[g], 2)] + rng.sample(FILLER, 4)
        rng.shuffle(words)
        rows.append((f"movie-{i}", " ".join(words), genres))
    return rows


def suggestion(record: dict[str, Any]) -> dict[str, Any]:
    return next((s for s in record.get("suggestions") or [] if s.get("question") == "genres"), {})


async def test_multi_label_answers_train_suggest_predict_and_are_monitored(embedded_stack, unique_name, tmp_path):
    from claystream_monitor.config import MonitorSettings
    from claystream_monitor.main import create_app as monitor_app

    db, dataset = unique_name, "movies"
    rows = corpus(72)
    labelled, pending = rows[:40], rows[40:]
    monitor_settings = settings_for(MonitorSettings, embedded_stack, "monitor", db, embedder="none",
                                    reference_size="50", window_size="20", window_stride="10")
    async with (
        three_services(embedded_stack, db, WORKSPACE, tmp_path / "models") as svc,
        AsyncExitStack() as extra,
    ):
        monitor = (await extra.enter_async_context(in_process(monitor_app(monitor_settings), "monitor",
                                                               workspace=WORKSPACE))).client
        annotate, ingest, trainer = svc["annotate"].client, svc["ingest"].client, svc["trainer"].client
        body = {"name": dataset, "fields": [{"name": "overview"}],
                "questions": [{"name": "genres", "type": "multi_label", "labels": sorted(WORDS)},
                              {"name": "notes", "type": "text", "required": False}],
                "trainer": {"refresh_every": 4, "min_per_label": 2, "finetune_every": 1000,
                            "forward_predictions": True}}
        assert (await annotate.post(f"/api/v1/workspaces/{WORKSPACE}/datasets", json=body)).status_code == 201
        items = [{"external_id": key, "fields": {"overview": text}} for key, text, _ in rows]
        assert (await ingest.post(f"/api/v1/datasets/{dataset}/records:bulk", json={"items": items})).status_code == 202
        records_url = f"/api/v1/workspaces/{WORKSPACE}/datasets/{dataset}/records"

        async def stored_and_embedded() -> bool:
            listed = (await annotate.get(records_url, params={"limit": 100})).json()
            status = (await trainer.get(f"/api/v1/models/{dataset}/status")).json()
            return len(listed["items"]) == len(rows) and status.get("embedded_records", 0) >= len(rows)

        await eventually(stored_and_embedded, timeout_s=60, what="records stored in annotate and embedded")

        for key, _, genres in labelled:  # the annotator's multi-label answers, through annotate's API
            answer = await annotate.put(f"{records_url}/{record_id_for(WORKSPACE, dataset, key)}/response",
                                        json={"status": "submitted", "values": {"genres": genres}})
            assert answer.status_code == 200, answer.text

        async def champion_on_every_label() -> dict[str, Any] | None:
            models = (await trainer.get(f"/api/v1/models/{dataset}")).json()
            best = next((m for m in models["items"] if m["version"] == models["champion"]), None)
            return best if best and best["label_count"] == len(labelled) else None

        champion = await eventually(champion_on_every_label, timeout_s=60, what="a champion on all 40 answers")
        metrics = champion["metrics"]
        assert {"micro_f1", "macro_f1", "samples_f1", "hamming_loss", "per_class", "threshold"} <= set(metrics)
        assert metrics["micro_f1"] >= 0.6 and set(metrics["per_class"]) == set(WORDS), metrics
        assert champion["params"]["training_kind"] == "multi_label" and champion["question"] == "genres"
        version = champion["version"]

        async def suggested_everywhere() -> list[dict[str, Any]] | None:
            listed = (await annotate.get(records_url, params={"limit": 100, "status": "pending"})).json()["items"]
            fresh = [r for r in listed if suggestion(r).get("model_version") == version]
            return listed if len(listed) == len(pending) and len(fresh) == len(pending) else None

        listed = await eventually(suggested_everywhere, timeout_s=60, what=f"suggestions of {version} everywhere")
        truth = {record_id_for(WORKSPACE, dataset, key): set(genres) for key, _, genres in pending}
        assert all(isinstance(suggestion(r)["value"], list) for r in listed)
        hits = sum(len(set(suggestion(r)["value"]) & truth[r["id"]]) for r in listed)
        predicted = sum(len(suggestion(r)["value"]) for r in listed)
        actual = sum(len(t) for t in truth.values())
        assert 2 * hits / (predicted + actual) >= 0.7, (hits, predicted, actual)  # micro-F1 of the suggestions

        status = (await trainer.get(f"/api/v1/models/{dataset}/status")).json()
        assert status["trains"] == {"question": "genres", "kind": "multi_label", "labels": sorted(WORDS)}
        notes = {"name": "notes-only", "fields": [{"name": "overview"}],
                 "questions": [{"name": "notes", "type": "text"}]}
        assert (await annotate.post(f"/api/v1/workspaces/{WORKSPACE}/datasets", json=notes)).status_code == 201
        assert (await trainer.get("/api/v1/models/notes-only/status")).json()["trains"] is None
        never = await trainer.post("/api/v1/models/notes-only/train", json={"kind": "refresh"})
        assert never.status_code == 409 and "never trained" in never.json()["detail"]["reason"]

        texts = [text for _, text, _ in pending] * 3  # 96: a 50-prediction reference, then windows of 20
        answer = await trainer.post(f"/api/v1/models/{dataset}/predict", json={"texts": texts})
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert all(isinstance(p["labels"], list) and set(p["scores"]) == set(WORDS) for p in predictions)
        one = (await trainer.post(f"/api/v1/models/{dataset}/predict",
                                  json={"text": "a haunted house, a ghost and a scream", "forward": False})).json()
        assert one["label"] == "horror" == one["labels"][0]  # the most probable first

        async def rates_checked() -> dict[str, Any] | None:
            found = await monitor.get(f"/api/v1/models/{dataset}/overview")
            if found.status_code != 200:
                return None
            windows = [w for w in found.json()["drift"] if any(r["check"] == "label_rates" for r in w["results"])]
            return windows[0] if windows else None

        window = await eventually(rates_checked, timeout_s=60, what="the monitor checking each label's rate")
        assert set(window["label_rates"]) == set(WORDS), window  # each label's share of the window's predictions
        assert all(0 < rate < 1 for rate in window["label_rates"].values())
        overview = (await monitor.get(f"/api/v1/models/{dataset}/overview")).json()
        assert overview["multi_label"] and set(overview["labels"]) == set(WORDS)  # each label's rate over time
        carried = {g: sum(t["labels"][g] for t in overview["traffic"]) for g in WORDS}
        assert sum(carried.values()) > sum(t["count"] for t in overview["traffic"])  # some predictions carry two
