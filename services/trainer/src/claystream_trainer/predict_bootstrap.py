"""The only place that builds clients for the predict role (→ ``PredictDeps``): no Redis, no training state.

It reads the registry and dataset settings (MongoDB), loads artifacts from the shared model store, publishes
``prediction.logged`` and consumes ``model.promoted`` in a consumer group of its own (every replica hears
every promotion).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claystream_common.auth import Authenticator
from claystream_common.auth_mongo import MongoApiKeyLookup
from claystream_common.kafka.consumer import ConsumerRunner
from claystream_common.kafka.producer import EventProducer
from claystream_common.mongo import make_mongo_client, mongo_database
from claystream_common.ports import EventPublisher
from claystream_common.runtime import KafkaRuntime
from pymongo import AsyncMongoClient

from claystream_trainer.adapters.bodies import LocalBodyProvider
from claystream_trainer.adapters.mongo_registry import MongoDatasetSpecs, MongoModelRegistry
from claystream_trainer.bootstrap import build_model_store
from claystream_trainer.config import TrainerSettings
from claystream_trainer.consumers.promotions import promotion_subscriptions
from claystream_trainer.domain.ports import ArtifactStore, BodyProvider, DatasetSpecs, ModelRegistry
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.serving import Readiness


@dataclass
class ServingPorts:
    registry: ModelRegistry
    artifacts: ArtifactStore
    bodies: BodyProvider
    specs: DatasetSpecs
    publisher: EventPublisher


@dataclass
class PredictDeps:
    settings: TrainerSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    producer: EventProducer
    kafka: KafkaRuntime
    ports: ServingPorts
    champions: ChampionCache
    auth: Authenticator
    readiness: Readiness = field(default_factory=Readiness)
    closers: list[Callable[[], None]] = field(default_factory=list)


def replica_name(settings: TrainerSettings) -> str:
    return settings.replica_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def build_predict_deps(settings: TrainerSettings) -> PredictDeps:
    producer = EventProducer(settings.kafka_bootstrap_servers, service=settings.service_name,
                             client_id=settings.kafka_client_id)
    mongo = make_mongo_client(settings)
    db = mongo_database(mongo, settings)
    artifacts, close_store = build_model_store(settings)
    ports = ServingPorts(registry=MongoModelRegistry(db), artifacts=artifacts, bodies=LocalBodyProvider(settings),
                         specs=MongoDatasetSpecs(db), publisher=producer)
    champions = ChampionCache(ports, ttl_s=settings.champion_cache_s)
    runners = []
    if settings.consumers_enabled:
        runners.append(ConsumerRunner(
            service=settings.service_name, bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"{settings.consumer_group}-{replica_name(settings)}", producer=producer,
            subscriptions=promotion_subscriptions(champions), auto_offset_reset="latest",
            max_attempts=settings.consumer_max_attempts, backoff_initial_s=settings.consumer_backoff_initial_s,
            backoff_max_s=settings.consumer_backoff_max_s, session_timeout_ms=settings.kafka_session_timeout_ms,
            max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
        ))
    return PredictDeps(settings=settings, mongo=mongo, producer=producer, kafka=KafkaRuntime(producer, runners),
                       ports=ports, champions=champions, closers=[close_store],
                       auth=Authenticator(service_token=settings.service_token, api_keys=MongoApiKeyLookup(db)))


async def close_predict_deps(deps: PredictDeps) -> None:
    await deps.kafka.stop()
    await deps.mongo.close()
    for close in deps.closers:
        close()
