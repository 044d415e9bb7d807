"""The only place that builds clients for the monitor service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from claystream_common.auth import Authenticator
from claystream_common.auth_mongo import MongoApiKeyLookup, MongoUserLookup
from claystream_common.idempotency import MongoFence
from claystream_common.kafka.consumer import ConsumerRunner, Subscription
from claystream_common.kafka.producer import EventProducer
from claystream_common.mongo import make_mongo_client, mongo_database
from claystream_common.redis_client import make_redis
from claystream_common.runtime import KafkaRuntime
from claystream_common.web_sessions import SessionCodec
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from claystream_monitor.adapters.embedders import CachedEmbedder, MiniLMEmbedder
from claystream_monitor.adapters.http_samples import IngestSampleSink, NoSampleSink
from claystream_monitor.adapters.mongo_datasets import MongoDatasetDirectory
from claystream_monitor.adapters.mongo_store import MongoMonitorStore
from claystream_monitor.adapters.redis_join import RedisJoinIndex, RedisRateLimiter
from claystream_monitor.adapters.text_process import ProcessTextFeatures
from claystream_monitor.config import MonitorSettings
from claystream_monitor.consumers.subscriptions import other_subscriptions, prediction_subscriptions
from claystream_monitor.metrics import MODEL_LABEL
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.predictions import PredictionPorts, SamplingPolicy


@dataclass
class Deps:
    settings: MonitorSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: Redis
    producer: EventProducer
    kafka: KafkaRuntime
    store: MongoMonitorStore
    engine: MonitorEngine
    http: httpx.AsyncClient
    fence: MongoFence
    auth: Authenticator
    text_features: ProcessTextFeatures | None = None


def build_deps(settings: MonitorSettings) -> Deps:
    mongo = make_mongo_client(settings)
    db = mongo_database(mongo, settings)
    redis = make_redis(settings)
    producer = EventProducer(settings.kafka_bootstrap_servers, service=settings.service_name, client_id=settings.kafka_client_id)
    http = httpx.AsyncClient()
    store = MongoMonitorStore(db, retention_s=settings.retention_days * 86400)
    embedder = None
    if settings.embedder == "minilm":
        cache = Path(settings.embedding_cache_path) if settings.embedding_cache_path else None
        embedder = CachedEmbedder(MiniLMEmbedder(settings.embedding_model_path, max_tokens=settings.embedding_max_tokens),
                                  precomputed=cache)
    engine = MonitorEngine(settings.drift_config(), store=store, embedder=embedder, max_live=settings.max_live_monitors,
                           batch_max=settings.prediction_batch_max)
    MODEL_LABEL.cap = settings.metric_models_max
    join = RedisJoinIndex(redis, ttl_s=settings.join_ttl_s)
    text_features = ProcessTextFeatures() if settings.text_worker else None
    sink = (IngestSampleSink(http, ingest_url=settings.ingest_url, service_token=settings.service_token)
            if settings.ingest_url else NoSampleSink())
    ports = PredictionPorts(
        engine=engine, store=store, join=join, publisher=producer, sink=sink, limiter=RedisRateLimiter(redis),
        directory=MongoDatasetDirectory(db),
        sampling=SamplingPolicy(settings.sample_dataset, settings.samples_per_alert, settings.samples_per_hour),
        time_bucket_s=settings.time_bucket_s, store_texts=settings.store_texts, text_features=text_features,
    )
    fence = MongoFence(db["processed_events"], settings.consumer_group)
    runners = []
    if settings.consumers_enabled:
        runners.append(_runner(settings, producer, prediction_subscriptions(ports=ports), group=f"{settings.consumer_group}-predictions",
                               fence=None, max_records=settings.prediction_batch_max))
        runners.append(_runner(settings, producer, other_subscriptions(
            engine=engine, store=store, join=join, publisher=producer, bucket_s=settings.time_bucket_s,
            reference_source=settings.reference_source, directory=ports.directory,
        ), group=settings.consumer_group, fence=fence, max_records=500))
    return Deps(settings=settings, mongo=mongo, redis=redis, producer=producer, kafka=KafkaRuntime(producer, runners),
                store=store, engine=engine, http=http, fence=fence, auth=authenticator(settings, db),
                text_features=text_features)


def authenticator(settings: MonitorSettings, db: Any) -> Authenticator:
    """API keys, the service token (any workspace when it names none: the monitor only reads) and
    annotate's session cookie, through ``claystream_common.auth``."""
    return Authenticator(
        service_token=settings.service_token, api_keys=MongoApiKeyLookup(db), users=MongoUserLookup(db),
        sessions=SessionCodec(settings.secret_key, max_age_s=settings.session_max_age_s), service_needs_workspace=False,
    )


def _runner(
    settings: MonitorSettings, producer: EventProducer, subscriptions: list[Subscription], *, group: str,
    fence: MongoFence | None, max_records: int,
) -> ConsumerRunner:
    return ConsumerRunner(
        service=settings.service_name,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        subscriptions=subscriptions,
        producer=producer,
        fence=fence,
        max_attempts=settings.consumer_max_attempts,
        backoff_initial_s=settings.consumer_backoff_initial_s,
        backoff_max_s=settings.consumer_backoff_max_s,
        max_records=max_records,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
    )


def limit_native_threads(threads: int) -> None:
    """Process-wide BLAS/OpenMP thread cap: the checks multiply small matrices, where extra threads
    only contend with the consumer loop (a 250x48 logistic fit measured ~5x slower with them on 2 cores)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


async def prepare_storage(deps: Deps) -> None:
    await deps.store.ensure_indexes()
    await deps.fence.ensure_indexes()


async def close_deps(deps: Deps) -> None:
    await deps.kafka.stop()
    if deps.text_features is not None:
        deps.text_features.close()
    await deps.http.aclose()
    await deps.redis.aclose()
    await deps.mongo.close()
