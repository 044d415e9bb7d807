"""Deleting a dataset: annotate publishes ``dataset.deleted``; the trainer and the monitor drop everything of it.
Deleting one record first: annotate publishes ``record.deleted``; the trainer forgets its text and label.

ingest, annotate, trainer (hashing embedder) and monitor run in-process against the real embedded Kafka /
MongoDB / Redis.  The dataset gets records, labels, a champion model (artifacts, cached embeddings, Redis
counters) and forwarded production predictions (monitor documents, Redis join keys); after the DELETE none
of it is left, and a new dataset with the same name starts clean (no labels, no models, versions from v1).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from claystream_common.datasets import record_id_for
from redis.asyncio import Redis

from .conftest import eventually, in_process, settings_for, three_services

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WORKSPACE = "deletion"
DATASET = "reviews"
ROWS = [("p1", "a wonderful, moving film with a brilliant cast", "positive"),
        ("p2", "brilliant and wonderful, I loved every minute", "positive"),
        ("n1", "a dull, boring mess with terrible acting", "negative"),
        ("n2", "terrible and boring, I hated every minute", "negative"),
        ("u1", "a brilliant, wonderful story", None),
        ("u2", "boring and terrible from start to end", None)]
TRAINER_MONGO = {"trainer_records": "dskey", "trainer_labels": "dskey", "trainer_models": "dskey"}
MONITOR_MONGO = ("monitor_models", "monitor_predictions", "monitor_traffic", "monitor_references", "monitor_windows")


async def leftovers(db: Any, redis: Redis, models_dir: Path) -> dict[str, int]:
    """Everything the trainer and the monitor could still hold of the dataset (0 everywhere once dropped)."""
    dskey = f"{WORKSPACE}/{DATASET}"
    found = {name: await db[name].count_documents({field: dskey}) for name, field in TRAINER_MONGO.items()}
    found["trainer_model_sequences"] = await db["trainer_model_sequences"].count_documents({"_id": dskey})
    for name in MONITOR_MONGO:
        found[name] = await db[name].count_documents({"workspace": WORKSPACE, "model": DATASET})
    found["redis trainer counters"] = await redis.exists(f"trainer:counts:{WORKSPACE}:{DATASET}")
    joins = [key async for key in redis.scan_iter(match="mon:p:*")]
    found["redis monitor join keys"] = sum(1 for raw in (await redis.mget(joins) if joins else [])
                                           if raw and f'"{WORKSPACE}", "{DATASET}"' in raw)
    found["model artifacts"] = int((models_dir / WORKSPACE / DATASET).exists())
    found["embedding cache"] = int((models_dir / "cache" / WORKSPACE / DATASET).exists())
    found["annotate model_events"] = await db["model_events"].count_documents({"dataset_key": dskey})
    return found


async def test_deleting_a_dataset_leaves_nothing_behind_and_the_name_starts_clean(embedded_stack, unique_name, tmp_path):
    from claystream_monitor.config import MonitorSettings
    from claystream_monitor.main import create_app as monitor_app
    from claystream_trainer.domain.ports import DatasetKey

    db_name, models_dir = unique_name, tmp_path / "models"
    records_url = f"/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}/records"
    monitor = monitor_app(settings_for(MonitorSettings, embedded_stack, "monitor", db_name, embedder="none",
                                       reference_size="50", window_size="20", window_stride="10"))
    async with AsyncExitStack() as stack:
        svc = await stack.enter_async_context(three_services(embedded_stack, db_name, WORKSPACE, models_dir))
        await stack.enter_async_context(in_process(monitor, "monitor", workspace=WORKSPACE))
        annotate, ingest, trainer = svc["annotate"].client, svc["ingest"].client, svc["trainer"].client
        deps = svc["trainer"].app.state.deps
        db, redis = deps.mongo[deps.settings.mongo_db], deps.redis

        async def create() -> None:
            body = {"name": DATASET, "fields": [{"name": "text"}],
                    "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
                    "trainer": {"refresh_every": 4, "min_per_label": 2, "finetune_every": 1000,
                                "forward_predictions": True}}
            answer = await annotate.post(f"/api/v1/workspaces/{WORKSPACE}/datasets", json=body)
            assert answer.status_code == 201, answer.text

        await create()
        items = [{"external_id": key, "fields": {"text": text}} for key, text, _ in ROWS]
        assert (await ingest.post(f"/api/v1/datasets/{DATASET}/records:bulk", json={"items": items})).status_code == 202

        async def stored_and_embedded() -> bool:
            listed = (await annotate.get(records_url, params={"limit": 50})).json()
            status = (await trainer.get(f"/api/v1/models/{DATASET}/status")).json()
            return len(listed["items"]) == len(ROWS) and status.get("embedded_records", 0) >= len(ROWS)

        await eventually(stored_and_embedded, timeout_s=60, what="records stored and embedded")
        for key, _, label in ROWS:
            if label is not None:
                answer = await annotate.put(f"{records_url}/{record_id_for(WORKSPACE, DATASET, key)}/response",
                                            json={"status": "submitted", "values": {"sentiment": label}})
                assert answer.status_code == 200, answer.text

        async def champion() -> str | None:
            return (await trainer.get(f"/api/v1/models/{DATASET}")).json().get("champion")

        await eventually(champion, timeout_s=60, what="a champion model")
        for i in range(3):
            answer = await trainer.post(f"/api/v1/models/{DATASET}/predict", json={"text": f"a brilliant film {i}"})
            assert answer.status_code == 200, answer.text

        async def monitored() -> bool:
            return await db["monitor_predictions"].count_documents({"workspace": WORKSPACE, "model": DATASET}) > 0

        await eventually(monitored, timeout_s=60, what="the monitor storing the forwarded predictions")
        before = await leftovers(db, redis, models_dir)
        held = {name for name, count in before.items() if count}
        assert {"trainer_records", "trainer_labels", "trainer_models", "trainer_model_sequences", "monitor_models",
                "monitor_predictions", "redis trainer counters", "redis monitor join keys", "model artifacts",
                "embedding cache", "annotate model_events"} <= held, before

        # one record first: annotate publishes record.deleted, the trainer forgets its text and its label
        gone = record_id_for(WORKSPACE, DATASET, "p1")
        assert await db["trainer_labels"].count_documents({"record_id": gone}) == 1
        assert (await annotate.delete(f"{records_url}/{gone}")).status_code == 204

        async def record_forgotten() -> bool:
            return (await db["trainer_records"].count_documents({"record_id": gone}) == 0
                    and await db["trainer_labels"].count_documents({"record_id": gone}) == 0)

        await eventually(record_forgotten, timeout_s=60, what="the trainer forgetting a deleted record")
        assert await db["trainer_records"].count_documents({"dskey": f"{WORKSPACE}/{DATASET}"}) == len(ROWS) - 1

        answer = await annotate.delete(f"/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}")
        assert answer.status_code == 204, answer.text

        async def all_gone() -> dict[str, int] | None:
            found = await leftovers(db, redis, models_dir)
            return None if any(found.values()) else found

        try:
            await eventually(all_gone, timeout_s=60, what="the trainer and the monitor dropping the dataset")
        except AssertionError as error:
            raise AssertionError(f"{error}; still there: {await leftovers(db, redis, models_dir)}") from None

        await create()  # the same name again: nothing of the old one shows
        status = (await trainer.get(f"/api/v1/models/{DATASET}/status")).json()
        assert status["labels_per_class"] == {} and status["champion"] is None, status
        models = (await trainer.get(f"/api/v1/models/{DATASET}")).json()
        assert models["items"] == [] and models["champion"] is None, models
        training = await annotate.get(f"/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}/training")
        assert training.status_code == 200 and training.json() == [], training.text
        answer = await trainer.post(f"/api/v1/models/{DATASET}/predict", json={"text": "a brilliant film"})
        assert answer.status_code == 404, answer.text  # no champion is served any more
        assert await deps.ports.registry.next_version(DatasetKey(WORKSPACE, DATASET)) == "v1"
