"""The only place that builds clients for the ingest service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from claystream_common.mongo import make_mongo_client, mongo_database
from claystream_common.redis_client import make_redis
from claystream_common.runtime import KafkaRuntime
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from claystream_ingest.adapters.kafka_bulk_publisher import BulkEventProducer
from claystream_ingest.adapters.mongo_api_keys import CachedMongoApiKeyStore
from claystream_ingest.adapters.mongo_datasets import CachedMongoDatasetCatalog
from claystream_ingest.adapters.redis_rate_limit import RedisRateLimiter
from claystream_ingest.config import IngestSettings
from claystream_ingest.services.ports import ApiKeyStore, DatasetCatalog, EncodedPublisher, RateLimiter
from claystream_ingest.services.validation import ValidatorCache


@dataclass
class Deps:
    settings: IngestSettings
    publisher: EncodedPublisher
    api_keys: ApiKeyStore
    datasets: DatasetCatalog
    rate_limiter: RateLimiter
    validators: ValidatorCache = field(default_factory=ValidatorCache)
    kafka: KafkaRuntime | None = None
    mongo: AsyncMongoClient[dict[str, Any]] | None = None
    redis: Redis | None = None


def build_deps(settings: IngestSettings) -> Deps:
    producer = BulkEventProducer(
        settings.kafka_bootstrap_servers,
        service=settings.service_name,
        client_id=settings.kafka_client_id,
        request_timeout_ms=int(settings.kafka_publish_timeout_s * 1000),
        linger_ms=settings.producer_linger_ms,
        max_batch_size=settings.producer_max_batch_bytes,
    )
    mongo = make_mongo_client(settings)
    db = mongo_database(mongo, settings)
    redis = make_redis(settings)
    return Deps(
        settings=settings,
        publisher=producer,
        api_keys=CachedMongoApiKeyStore(db, redis, ttl_s=settings.api_key_cache_ttl_s),
        datasets=CachedMongoDatasetCatalog(db, redis, ttl_s=settings.dataset_cache_ttl_s),
        rate_limiter=RedisRateLimiter(redis, rate_per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst),
        kafka=KafkaRuntime(producer),
        mongo=mongo,
        redis=redis,
    )


async def start_deps(deps: Deps) -> None:
    if deps.kafka is not None:
        await deps.kafka.start(wait_s=deps.settings.kafka_connect_wait_s)


async def close_deps(deps: Deps) -> None:
    if deps.kafka is not None:
        await deps.kafka.stop()
    if deps.redis is not None:
        await deps.redis.aclose()
    if deps.mongo is not None:
        await deps.mongo.close()
