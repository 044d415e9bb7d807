"""The predict role against the real stack: the trainer writes champions to GridFS, two predict replicas
serve them, swap on ``model.promoted`` within seconds, and a replica started later is ready only once it
loaded the current champion.  The GridFS store splits files into parts and never loads a corrupt artifact."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from pathlib import Path

import gridfs
import httpx
import joblib
import pytest
from claystream_common.events import RecordIngested, ResponseChanged, new_event
from claystream_common.kafka.producer import EventProducer
from claystream_common.settings import load_settings
from claystream_devstack.pytest_plugin import service_env
from claystream_trainer.adapters.gridfs_artifacts import GridFSArtifactStore
from claystream_trainer.config import TrainerSettings
from claystream_trainer.domain.ports import ArtifactError, DatasetKey
from claystream_trainer.predict_main import create_app as create_predict_app
from pymongo import AsyncMongoClient, MongoClient

from .test_learning_loop import TOKEN, WORKSPACE, trainer_app, wait_for


def test_gridfs_store_parts_cache_and_corruption(embedded_stack, unique_name, tmp_path):
    client = MongoClient(embedded_stack.ports.mongo_url)
    try:
        db = client[unique_name]
        body = tmp_path / "body"
        body.mkdir()
        (body / "weights.bin").write_bytes(bytes(range(256)) * 12_000)  # 3.07 MB: parts of 1 MiB, 1 MiB, 0.93 MiB
        (body / "config.json").write_text("{}")
        writer = GridFSArtifactStore(db, tmp_path / "writer", part_bytes=1 << 20)
        key = DatasetKey("acme", "reviews")
        ref, sha256 = writer.save(key, "v1", {"head": [1, 2, 3]}, str(body))
        assert ref == "gridfs://acme/reviews/v1"
        bucket = gridfs.GridFSBucket(db, bucket_name="model_artifacts")
        assert len(list(bucket.find({"metadata.path": "body/weights.bin"}))) == 3
        reader = GridFSArtifactStore(db, tmp_path / "reader", part_bytes=1 << 20)
        assert reader.load_head(ref, sha256) == {"head": [1, 2, 3]}
        assert Path(reader.body_dir(ref), "weights.bin").read_bytes() == (body / "weights.bin").read_bytes()
        Path(reader.body_dir(ref), "weights.bin").write_bytes(b"bit rot in the local cache")
        assert reader.load_head(ref, sha256) == {"head": [1, 2, 3]}  # downloaded again, verified
        part = next(iter(bucket.find({"metadata.path": "head.joblib"})))
        bucket.delete(part._id)  # the stored bytes change under the registry's sha256
        bucket.upload_from_stream(part.filename, joblib.__name__.encode() * 3, metadata=part.metadata)
        late = GridFSArtifactStore(db, tmp_path / "late")
        with pytest.raises(ArtifactError, match="corrupt"):
            late.load_head(ref, sha256)
        with pytest.raises(ArtifactError, match="missing"):
            late.load_head("gridfs://acme/reviews/v9", sha256)
    finally:
        client.close()


@contextlib.asynccontextmanager
async def predict_replica(stack, db_name: str, models_dir: str, replica: str):
    env = service_env(stack, "CLAYSTREAM_TRAINER_", db_name, embedder="hashing", models_dir=models_dir,
                      model_store="gridfs", service_token=TOKEN, champion_cache_s="3600", replica_id=replica)
    settings = load_settings(TrainerSettings, **{k.removeprefix("CLAYSTREAM_TRAINER_").lower(): v for k, v in env.items()})
    app = create_predict_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://predict", headers={
                "Authorization": f"Bearer {TOKEN}", "X-Claystream-Workspace": WORKSPACE}) as client:
            yield app, client


async def served_version(client: httpx.AsyncClient, dataset: str) -> str | None:
    answer = await client.post(f"/api/v1/models/{dataset}/predict", json={"text": "great lovely", "forward": False})
    return answer.json().get("model_version") if answer.status_code == 200 else None


@pytest.mark.slow
async def test_predict_replicas_serve_swap_and_start_late(embedded_stack, unique_name):
    dataset = f"pr-{unique_name}"
    mongo = AsyncMongoClient(embedded_stack.ports.mongo_url)
    db = mongo[unique_name]
    await db["datasets"].insert_one({
        "_id": str(uuid.uuid4()), "workspace": WORKSPACE, "name": dataset, "fields": [{"name": "text"}],
        "questions": [{"name": "label", "type": "label", "labels": ["good", "bad"]}],
        "trainer": {"refresh_every": 4, "finetune_every": 1000},
    })
    producer = EventProducer(embedded_stack.ports.kafka_bootstrap, service="test")
    await producer.start()
    words = {"good": "great lovely superb", "bad": "awful boring dreadful"}

    async def label(start: int, n: int) -> None:
        records, answers = [], []
        for i in range(start, start + n):
            value = "good" if i % 2 else "bad"
            records.append(new_event("record.ingested", RecordIngested(record_id=f"r{i}", fields={"text": f"{words[value]} {i}"}),
                                     dataset=dataset, workspace=WORKSPACE))
            answers.append(new_event("response.submitted", ResponseChanged(
                response_id=f"a{i}", record_id=f"r{i}", user_id="u", status="submitted", values={"label": value}),
                dataset=dataset, workspace=WORKSPACE))
        await producer.publish_many(records, keys=[e.data.record_id for e in records])
        await producer.publish_many(answers, keys=[e.data.record_id for e in answers])

    try:
        with tempfile.TemporaryDirectory() as root:
            async with contextlib.AsyncExitStack() as stack:
                _, trainer = await stack.enter_async_context(trainer_app(
                    embedded_stack, unique_name, f"{root}/trainer", model_store="gridfs"))
                await label(0, 6)
                await wait_for(lambda: _champion(trainer, dataset, "v1"), 60, "v1 on the trainer")
                replicas = []
                for name in ("a", "b"):
                    app, client = await stack.enter_async_context(
                        predict_replica(embedded_stack, unique_name, f"{root}/{name}", f"{unique_name}-{name}"))
                    await wait_for(lambda c=client: _ready(c), 30, f"replica {name} ready")
                    replicas.append((app, client))
                    assert app.state.deps.champions.serving() == {DatasetKey(WORKSPACE, dataset): "v1"}
                for _, client in replicas:
                    assert await served_version(client, dataset) == "v1"
                await asyncio.wait_for(asyncio.gather(*(app.state.deps.kafka.started.wait() for app, _ in replicas)), 30)
                await label(6, 6)
                await wait_for(lambda: _champion(trainer, dataset, "v2"), 60, "v2 on the trainer")
                promoted_at = time.monotonic()
                for _, client in replicas:  # their registry view is trusted for an hour: only the event swaps
                    await wait_for(lambda c=client: _serves(c, dataset, "v2"), 5, "v2 on every replica within 5 s")
                assert time.monotonic() - promoted_at < 5
                late_app, late = await stack.enter_async_context(
                    predict_replica(embedded_stack, unique_name, f"{root}/late", f"{unique_name}-late"))
                await wait_for(lambda: _ready(late), 30, "the late replica ready")
                assert late_app.state.deps.champions.serving() == {DatasetKey(WORKSPACE, dataset): "v2"}
    finally:
        await producer.stop()
        await mongo.close()


async def _champion(client: httpx.AsyncClient, dataset: str, version: str) -> bool:
    return (await client.get(f"/api/v1/models/{dataset}")).json().get("champion") == version


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def _serves(client: httpx.AsyncClient, dataset: str, version: str) -> bool:
    return await served_version(client, dataset) == version
