"""Through the real stack: prediction.logged on Kafka → the monitor stores and windows them → a shift
publishes drift.detected → a sample of the shifted inputs is POSTed to a real HTTP sink (ingest's API shape)."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from claystream_common.events import FeedbackLogged, PredictionLogged, decode_event, new_event
from claystream_common.kafka.producer import EventProducer
from claystream_common.settings import load_settings
from claystream_common.web_sessions import SESSION_COOKIE, SessionCodec
from claystream_devstack.pytest_plugin import service_env
from claystream_monitor.config import MonitorSettings
from claystream_monitor.main import create_app
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.slow
TOKEN = "test-service-token-0123456789"
WORDS_A = [f"movie{i}" for i in range(300)]
WORDS_B = [f"tweet{i}" for i in range(300)]


class Sink:
    """A tiny real HTTP server standing in for ingest's records:bulk endpoint."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sink.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                payload = json.dumps({"accepted": len(body["items"]), "record_ids": []}).encode()
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def text(rng: random.Random, words: list[str], low: int, high: int) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(low, high)))


def prediction(model: str, workspace: str, i: int, rng: random.Random, *, shifted: bool) -> Any:
    label = "positive" if rng.random() < 0.5 else "negative"
    score = 0.6 + 0.4 * rng.random()
    data = PredictionLogged(
        request_id=f"{model}-{i}", model=model, model_version="v1",
        text=text(rng, WORDS_B, 3, 8) if shifted else text(rng, WORDS_A, 30, 60),
        predicted_label=label, scores={label: score, ("negative" if label == "positive" else "positive"): 1 - score},
    )
    return new_event("prediction.logged", data, dataset=model, workspace=workspace)


@asynccontextmanager
async def running_monitor(settings: MonitorSettings):  # type: ignore[no-untyped-def]
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://monitor") as client,
    ):
        yield client


async def wait_for(predicate, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError("condition not met in time")


async def test_shift_is_detected_published_and_sampled_back(embedded_stack, unique_name, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model, workspace = unique_name, "acme"
    with Sink() as sink:
        env = service_env(
            embedded_stack, "CLAYSTREAM_MONITOR_", unique_name,
            kafka_consumer_group=unique_name, service_token=TOKEN, ingest_url=sink.url, embedder="none",
            reference_size="120", window_size="60", window_stride="20", samples_per_alert="6", samples_per_hour="100",
            feedback_window="20", feedback_stride="10", feedback_reference_size="20",
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings(MonitorSettings)
        mongo = AsyncMongoClient(settings.mongo_url, tz_aware=True)
        db = mongo[settings.mongo_db]
        await db["datasets"].insert_one({
            "_id": "ds1", "workspace": workspace, "name": model,
            "fields": [{"name": "review"}], "questions": [{"name": "sentiment", "type": "label", "labels": ["negative", "positive"]}],
        })
        producer = EventProducer(settings.kafka_bootstrap_servers, service="test")
        await producer.start()
        try:
            async with running_monitor(settings) as client:
                rng = random.Random(7)
                stationary = [prediction(model, workspace, i, rng, shifted=False) for i in range(300)]
                await producer.publish_many(stationary, keys=[model] * len(stationary))

                async def stored() -> int:
                    docs = await db["monitor_predictions"].find({"model": model}, {"count": 1}).to_list(None)
                    return sum(d["count"] for d in docs) >= 300
                await wait_for(stored)
                reference = await wait_for(lambda: db["monitor_references"].find_one({"model": model}))
                assert reference["size"] == 120 and reference["source"] == "first_window"
                await wait_for(lambda: db["monitor_windows"].count_documents({"model": model, "events_seen": 300}))
                assert await db["monitor_alerts"].count_documents({"model": model}) == 0

                # feedback, some of it before its prediction was seen
                feedback = [new_event("feedback.logged", FeedbackLogged(request_id=f"{model}-{i}", model=model, true_label="positive"),
                                      workspace=workspace) for i in [*range(40), *range(1000, 1010)]]
                await producer.publish_many(feedback, keys=[model] * len(feedback))
                await wait_for(lambda: db["monitor_feedback"].count_documents({"model": model, "matched": True}))
                waiting = await wait_for(lambda: db["monitor_feedback"].count_documents({"model": model, "matched": False}))
                assert waiting == 10  # their predictions have not arrived yet

                shifted = [prediction(model, workspace, 1000 + i, rng, shifted=True) for i in range(120)]
                await producer.publish_many(shifted, keys=[model] * len(shifted))
                alert = await wait_for(lambda: db["monitor_alerts"].find_one({"model": model, "transition": "detected"}))
                assert alert["check"] in {"text_length", "oov_share"}
                late = await wait_for(lambda: db["monitor_feedback"].count_documents({"model": model, "matched": True}) )
                assert await wait_for(lambda: db["monitor_feedback"].count_documents({"model": model, "matched": True,
                                                                                         "request_id": f"{model}-1005"}))
                assert late >= 40
                assert alert["p_value"] < settings.alpha / len(settings.check_names)
                assert 300 < alert["window"]["events_seen"] <= 300 + 120

                await wait_for(lambda: asyncio.sleep(0, result=bool(sink.requests)))
                request = sink.requests[0]
                assert request["path"] == f"/api/v1/datasets/{model}/records:bulk"
                assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
                assert request["headers"]["X-Claystream-Workspace"] == workspace
                items = request["body"]["items"]
                assert 2 <= len(items) <= 100, "up to 6 for each evaluation that routes samples, 100 an hour"
                assert all(item["metadata"]["origin"] == "monitor" and item["metadata"]["model_version"] == "v1" for item in items)
                assert all(item["suggestions"][0]["question"] == "sentiment" for item in items)
                assert all(item["suggestions"][0]["value"] == item["metadata"]["predicted_label"] for item in items)
                assert all(item["fields"]["review"].startswith("tweet") for item in items), "samples come from the shifted traffic"
                assert len({item["fields"]["review"] for item in items}) == len(items)

                async def stored_as_delivered() -> bool:  # every delivered sample is remembered, and nothing else
                    delivered = {item["external_id"].removeprefix("monitor-") for r in sink.requests
                                 if r["headers"]["X-Claystream-Workspace"] == workspace for item in r["body"]["items"]}
                    stored = {doc["_id"].rsplit("|", 1)[1] async for doc in db["monitor_samples"].find({"workspace": workspace, "model": model}, {"_id": 1})}
                    return stored == delivered

                assert await wait_for(stored_as_delivered)

                response = await client.get("/api/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
                assert response.status_code == 200
                assert any(m["model"] == model and m["alerting"] for m in response.json()["items"])
                overview = await client.get(f"/api/v1/models/{model}/overview", headers={"Authorization": f"Bearer {TOKEN}"})
                body = overview.json()
                assert sum(t["count"] for t in body["traffic"]) >= 420 and body["alerts"] and body["samples"]
                assert body["labels"] == ["negative", "positive"]
                assert (await client.get("/api/v1/models")).status_code == 401
                missing = await client.get("/api/v1/models/nope/overview", headers={"Authorization": f"Bearer {TOKEN}"})
                assert missing.status_code == 404 and "model" in missing.json()["detail"]
                assert (await client.get("/api/v1/models", headers={"X-API-Key": "bogus"})).status_code == 401

                # the dashboard, signed in with annotate's session cookie, sees only its workspaces
                await db["users"].insert_one({"_id": "u1", "username": "ada", "role": "annotator", "workspaces": [workspace]})
                cookie = SessionCodec(settings.secret_key).encode(SessionCodec(settings.secret_key).new_session("u1"))
                client.cookies.set(SESSION_COOKIE, cookie)
                page = await client.get(f"/dashboard/models/{model}")
                assert page.status_code == 200 and "data-chart" in page.text and 'hx-trigger="every 5s"' in page.text
                assert "chart-4.6.1.umd.min.js" in page.text and "cdn" not in page.text.lower()
                fragment = await client.get(f"/dashboard/models/{model}/fragments/panels?version=v1")
                assert fragment.status_code == 200 and "<html" not in fragment.text and "text_length" in fragment.text
                listing = await client.get("/dashboard/fragments/models")
                assert model in listing.text
                await db["users"].update_one({"_id": "u1"}, {"$set": {"workspaces": ["elsewhere"]}})
                assert model not in (await client.get("/dashboard/fragments/models")).text
                client.cookies.clear()
                assert (await client.get("/dashboard")).status_code in (303, 401)
                assert b"claystream_drift_score" in (await client.get("/metrics")).content
            consumer = AIOKafkaConsumer("drift", bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest",
                                        group_id=f"{unique_name}-reader")
            await consumer.start()
            try:
                async def published() -> list[Any]:
                    batches = await consumer.getmany(timeout_ms=500)
                    events = [decode_event(m.value) for msgs in batches.values() for m in msgs]
                    published.seen.extend(e for e in events if e.data.model == model)  # type: ignore[attr-defined]
                    return [e for e in published.seen if e.type == "drift.detected"]  # type: ignore[attr-defined]
                published.seen = []  # type: ignore[attr-defined]
                detected = await wait_for(published, timeout_s=20)
                assert detected[0].workspace == workspace and detected[0].data.evidence
            finally:
                await consumer.stop()
        finally:
            await producer.stop()
            await mongo.close()
