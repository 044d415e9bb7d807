"""The only place that builds clients for the annotate service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from claystream_annotate.adapters.mongo_records import MongoRecordRepository
from claystream_annotate.config import AnnotateSettings
from claystream_annotate.consumers.subscriptions import subscriptions
from claystream_common.idempotency import MongoFence
from claystream_common.kafka.consumer import ConsumerRunner
from claystream_common.kafka.producer import EventProducer
from claystream_common.mongo import make_mongo_client, mongo_database
from claystream_common.redis_client import make_redis
from claystream_common.runtime import KafkaRuntime


@dataclass
class Deps:
    settings: AnnotateSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: Redis
    producer: EventProducer
    kafka: KafkaRuntime
    records: MongoRecordRepository


def build_deps(settings: AnnotateSettings) -> Deps:
    mongo = make_mongo_client(settings)
    db = mongo_database(mongo, settings)
    producer = EventProducer(settings.kafka_bootstrap_servers, service=settings.service_name, client_id=settings.kafka_client_id)
    records = MongoRecordRepository(db)
    runners = []
    if settings.consumers_enabled:
        runners.append(
            ConsumerRunner(
                service=settings.service_name,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=settings.consumer_group,
                subscriptions=subscriptions(records=records),
                producer=producer,
                fence=MongoFence(db["processed_events"], settings.consumer_group),
                max_attempts=settings.consumer_max_attempts,
                backoff_initial_s=settings.consumer_backoff_initial_s,
                backoff_max_s=settings.consumer_backoff_max_s,
                session_timeout_ms=settings.kafka_session_timeout_ms,
                heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
                rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
            )
        )
    return Deps(
        settings=settings,
        mongo=mongo,
        redis=make_redis(settings),
        producer=producer,
        kafka=KafkaRuntime(producer, runners),
        records=records,
    )


async def prepare_storage(deps: Deps) -> None:
    await deps.records.ensure_indexes()
    for runner in deps.kafka.runners:
        fence = runner._fence  # noqa: SLF001 - the fence we built above
        if isinstance(fence, MongoFence):
            await fence.ensure_indexes()


async def close_deps(deps: Deps) -> None:
    await deps.kafka.stop()
    await deps.redis.aclose()
    await deps.mongo.close()
