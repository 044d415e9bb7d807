"""The only place that builds clients for the ingest service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from claystream_common.kafka.producer import EventProducer
from claystream_common.mongo import make_mongo_client
from claystream_common.redis_client import make_redis
from claystream_common.runtime import KafkaRuntime
from claystream_ingest.config import IngestSettings


@dataclass
class Deps:
    settings: IngestSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: Redis
    producer: EventProducer
    kafka: KafkaRuntime


def build_deps(settings: IngestSettings) -> Deps:
    producer = EventProducer(settings.kafka_bootstrap_servers, service=settings.service_name, client_id=settings.kafka_client_id)
    return Deps(
        settings=settings,
        mongo=make_mongo_client(settings),
        redis=make_redis(settings),
        producer=producer,
        kafka=KafkaRuntime(producer),
    )


async def close_deps(deps: Deps) -> None:
    await deps.kafka.stop()
    await deps.redis.aclose()
    await deps.mongo.close()
