"""Registry endpoints against the real stack: promote / roll back (admin only), a corrupt artifact is refused."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from claystream_common.apikeys import generate_api_key
from claystream_common.events import RecordIngested, ResponseChanged, new_event
from claystream_common.kafka.producer import EventProducer
from pymongo import AsyncMongoClient

from .test_learning_loop import TOKEN, WORKSPACE, trainer_app, wait_for


@pytest.mark.slow
async def test_promote_rollback_and_corrupt_artifact(embedded_stack, unique_name):
    dataset = f"reg-{unique_name}"
    mongo = AsyncMongoClient(embedded_stack.ports.mongo_url)
    db = mongo[unique_name]
    await db["datasets"].insert_one({
        "_id": str(uuid.uuid4()), "workspace": WORKSPACE, "name": dataset, "fields": [{"name": "text"}],
        "questions": [{"name": "label", "type": "label", "labels": ["good", "bad"]}],
        "trainer": {"refresh_every": 4, "finetune_every": 1000},
    })
    member = generate_api_key()
    await db["api_keys"].insert_one({"_id": member.key_id, "workspace": WORKSPACE, "name": "ci", "role": "member",
                                     "secret_sha256": member.secret_sha256, "created_at": datetime.now(UTC),
                                     "revoked": False})
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
        with tempfile.TemporaryDirectory() as models_dir:
            async with trainer_app(embedded_stack, unique_name, models_dir) as (_app, client):
                async def champion_is(version):
                    async def check():
                        return (await client.get(f"/api/v1/models/{dataset}")).json().get("champion") == version
                    return check

                await label(0, 6)
                await wait_for(await champion_is("v1"), 60, "v1")
                await asyncio.sleep(0.5)
                await label(6, 8)
                await wait_for(await champion_is("v2"), 60, "v2")

                as_member = {"X-API-Key": member.plaintext, "Authorization": ""}
                listed = await client.get(f"/api/v1/models/{dataset}", headers=as_member)
                assert listed.status_code == 200 and listed.json()["champion"] == "v2"
                forbidden = await client.post(f"/api/v1/models/{dataset}/rollback", headers=as_member)
                assert forbidden.status_code == 403

                rolled = await client.post(f"/api/v1/models/{dataset}/rollback")
                assert rolled.status_code == 200 and rolled.json()["version"] == "v1"
                assert (await client.post(f"/api/v1/models/{dataset}/predict", json={"text": "great"})).json()[
                    "model_version"] == "v1"
                promoted = await client.post(f"/api/v1/models/{dataset}/versions/v2/promote")
                assert promoted.status_code == 200 and promoted.json()["status"] == "champion"

                v1 = (await client.get(f"/api/v1/models/{dataset}/versions/v1")).json()
                head_file = Path(v1["artifact_path"]) / "head.joblib"
                head_file.write_bytes(head_file.read_bytes() + b"bitrot")
                refused = await client.post(f"/api/v1/models/{dataset}/versions/v1/promote")
                assert refused.status_code == 409 and "corrupt" in refused.json()["detail"]["reason"]
                assert (await client.get(f"/api/v1/models/{dataset}")).json()["champion"] == "v2"
                missing = await client.get(f"/api/v1/models/{dataset}/versions/v99/metrics")
                assert missing.status_code == 404 and missing.json()["detail"]["field"] == "version"
                bad_header = await client.get(f"/api/v1/models/{dataset}", headers={"X-Claystream-Workspace": "Bad Name!"})
                assert bad_header.status_code == 400
                wrong = await client.get(f"/api/v1/models/{dataset}", headers={"Authorization": "Bearer nope-nope-nope"})
                assert wrong.status_code == 401 and TOKEN not in wrong.text
                # a training that could never run is refused now, not accepted and dropped in the background
                unknown = await client.post("/api/v1/models/no-such-dataset/train", json={"kind": "refresh"})
                assert unknown.status_code == 404 and unknown.json()["detail"]["field"] == "dataset"
                assert (await client.get("/api/v1/models/no-such-dataset/status")).status_code == 404
                await db["datasets"].insert_one({
                    "_id": str(uuid.uuid4()), "workspace": WORKSPACE, "name": f"{dataset}-empty", "fields": [{"name": "text"}],
                    "questions": [{"name": "label", "type": "label", "labels": ["good", "bad"]}]})
                empty = await client.post(f"/api/v1/models/{dataset}-empty/train", json={"kind": "refresh"})
                assert empty.status_code == 409 and "need ≥2 classes" in empty.json()["detail"]["reason"], empty.text
                # input that is no JSON value at all (NaN, a lone surrogate) is a 422, never echoed into a 500
                for raw in ('{"text": "ok", "forward": NaN}', '{"text": "\\ud800"}', '{"text": "ok", "model_version": -Infinity}',
                            '{"text": "ok", "model_version": ""}'):
                    odd = await client.post(f"/api/v1/models/{dataset}/predict", content=raw,
                                            headers={"Content-Type": "application/json"})
                    assert odd.status_code == 422 and odd.json()["detail"][0]["loc"][0] == "body", (raw, odd.text)
    finally:
        await producer.stop()
        await mongo.close()
