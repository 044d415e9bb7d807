"""The ingest app against the real embedded stack: a uvicorn thread (for the sync SDK / CLI) and Kafka reads."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import MongoClient

from claystream.keys import new_key_document
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack
from claystream_ingest.config import IngestSettings
from claystream_ingest.main import create_app


@dataclass
class RunningIngest:
    url: str
    workspace: str
    dataset: str
    api_key: str
    viewer_key: str
    settings: IngestSettings
    mongo_url: str

    def db(self) -> Any:
        return MongoClient(self.mongo_url)[self.settings.mongo_db]


def ingest_settings(stack: EmbeddedStack, db: str, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": stack.ports.kafka_bootstrap, "mongo_url": stack.ports.mongo_url,
        "redis_url": stack.ports.redis_url, "mongo_db": db, "mode": "test", "log_json": False,
        "api_key_cache_ttl_s": 0.3, "dataset_cache_ttl_s": 0.3,
    }
    return IngestSettings(**(values | overrides))


def seed(mongo_url: str, db: str, workspace: str, dataset: str) -> tuple[str, str]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    try:
        client[db]["datasets"].insert_one({
            "_id": str(uuid.uuid4()), "workspace": workspace, "name": dataset, "created_at": datetime.now(UTC),
            "fields": [{"name": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
            "metadata_properties": [{"name": "year", "type": "integer"}],
        })
        writer, writer_key = new_key_document(workspace, "backend", "annotator")
        viewer, viewer_key = new_key_document(workspace, "dashboards", "annotator")
        viewer["role"] = "viewer"  # a role annotate may add later: not allowed to write
        client[db]["api_keys"].insert_many([writer, viewer])
        return writer_key, viewer_key
    finally:
        client.close()


@pytest.fixture(scope="module")
def ingest_server(embedded_stack: EmbeddedStack) -> Iterator[RunningIngest]:
    name = f"t{uuid.uuid4().hex[:10]}"
    settings = ingest_settings(embedded_stack, name)
    api_key, viewer_key = seed(embedded_stack.ports.mongo_url, name, name, "reviews")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ingest-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "ingest did not start"
        time.sleep(0.05)
    try:
        yield RunningIngest(f"http://127.0.0.1:{port}", name, "reviews", api_key, viewer_key, settings,
                            embedded_stack.ports.mongo_url)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class TopicTail:
    """Messages appended to a topic after ``start()`` (all partitions), read back as JSON."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.offsets: dict[TopicPartition, int] = {}

    def start(self) -> "TopicTail":
        async def ends() -> dict[TopicPartition, int]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await consumer.start()
            try:
                partitions = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or [])]
                return await consumer.end_offsets(partitions)
            finally:
                await consumer.stop()

        self.offsets = asyncio.run(ends())
        return self

    def read(self, *, where: dict[str, Any], expect: int, timeout_s: float = 15.0,
             match: Callable[[dict[str, Any]], bool] = lambda document: True) -> list[dict[str, Any]]:
        """Messages whose envelope has the ``where`` values and passes ``match`` (the broker's end offsets
        can lag a moment, so tests also filter on what they sent)."""

        def wanted(document: dict[str, Any]) -> bool:
            return all(document.get(k) == v for k, v in where.items()) and match(document)

        async def read() -> list[dict[str, Any]]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await consumer.start()
            found: list[dict[str, Any]] = []
            try:
                consumer.assign(list(self.offsets))
                for partition, offset in self.offsets.items():
                    consumer.seek(partition, offset)
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline and len(found) < expect:
                    batches = await consumer.getmany(timeout_ms=300)
                    for messages in batches.values():
                        for message in messages:
                            document = orjson.loads(message.value)
                            if wanted(document):
                                found.append(document | {"_key": message.key, "_headers": dict(message.headers)})
                await asyncio.sleep(0.5)  # anything beyond the expected count (duplicates) shows up too
                for messages in (await consumer.getmany(timeout_ms=300)).values():
                    for message in messages:
                        document = orjson.loads(message.value)
                        if wanted(document):
                            found.append(document | {"_key": message.key, "_headers": dict(message.headers)})
                return found
            finally:
                await consumer.stop()

        return asyncio.run(read())


def envelope_of(document: dict[str, Any]) -> Any:
    """A message read by TopicTail, decoded with the contract's decoder."""
    from claystream_common.events import decode_event

    return decode_event(orjson.dumps({k: v for k, v in document.items() if not k.startswith("_")}))
