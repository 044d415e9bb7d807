"""The only place that builds clients for the annotate service."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from claystream_common.datasets import DatasetSpec
from claystream_common.idempotency import MongoFence
from claystream_common.kafka.consumer import ConsumerRunner
from claystream_common.kafka.producer import EventProducer
from claystream_common.mongo import make_mongo_client, mongo_database
from claystream_common.ports import EventPublisher
from claystream_common.redis_client import make_redis
from claystream_common.runtime import KafkaRuntime
from claystream_common.auth import Authenticator
from claystream_common.auth_mongo import MongoApiKeyLookup
from claystream_common.web_sessions import SessionCodec
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from claystream_annotate.adapters.mongo_datasets import MongoDatasetStore
from claystream_annotate.adapters.mongo_misc import MongoApiKeyStore, MongoModelEventStore
from claystream_annotate.adapters.mongo_quarantine import MongoOutboxQuarantine
from claystream_annotate.adapters.mongo_records import MongoRecordRepository
from claystream_annotate.adapters.mongo_responses import MongoResponseStore
from claystream_annotate.adapters.mongo_users import MongoUserStore, MongoWorkspaceStore
from claystream_annotate.adapters.http_webhooks import HttpWebhookSender
from claystream_annotate.adapters.mongo_webhooks import MongoWebhookDeliveries, MongoWebhookSubscriptions
from claystream_annotate.adapters.redis_queue import RedisCounters, RedisLoginLimiter, RedisQueue
from claystream_annotate.adapters.redis_relay_lock import RedisRelayLock
from claystream_annotate.adapters.vector_sources import HttpTrainerEmbeddings, MongoStoredVectors, RedisGenerations
from claystream_annotate.config import AnnotateSettings
from claystream_annotate.services.vector_index import VectorIndex
from claystream_annotate.consumers.subscriptions import subscriptions, webhook_subscriptions
from claystream_annotate.services.outbox import OutboxRelay
from claystream_annotate.services.webhook_delivery import RetrySchedule
from claystream_annotate.services.webhook_dispatcher import DispatchOptions, SubscriptionCache, WebhookDispatcher
from claystream_annotate.services.users import ensure_first_owner

log = logging.getLogger(__name__)


@dataclass
class Deps:
    settings: AnnotateSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: Redis
    producer: EventProducer
    kafka: KafkaRuntime
    records: MongoRecordRepository
    responses: MongoResponseStore
    datasets: MongoDatasetStore
    users: MongoUserStore
    workspaces: MongoWorkspaceStore
    api_keys: MongoApiKeyStore
    model_events: MongoModelEventStore
    queue: RedisQueue
    counters: RedisCounters
    limiter: RedisLoginLimiter
    sessions: SessionCodec
    relay: OutboxRelay
    publisher: EventPublisher  # direct events (dataset.deleted); responses go through the outbox relay
    vectors: VectorIndex
    http: httpx.AsyncClient
    webhook_subscriptions: MongoWebhookSubscriptions
    webhook_deliveries: MongoWebhookDeliveries
    webhook_cache: SubscriptionCache
    webhooks: WebhookDispatcher
    webhook_sender: HttpWebhookSender
    quarantine: MongoOutboxQuarantine
    auth: Authenticator


def spec_loader(datasets: MongoDatasetStore) -> Callable[[str], Awaitable[DatasetSpec | None]]:
    async def load(dataset_id: str) -> DatasetSpec | None:
        document = await datasets.get_by_id(dataset_id)
        return DatasetSpec.from_document(document) if document else None

    return load


def build_deps(settings: AnnotateSettings, *, publisher: EventPublisher | None = None) -> Deps:
    """Build every client and adapter.  ``publisher`` replaces the Kafka producer for the outbox
    relay (tests simulate a broken broker with it)."""
    mongo = make_mongo_client(settings)
    db = mongo_database(mongo, settings)
    redis = make_redis(settings)
    producer = EventProducer(settings.kafka_bootstrap_servers, service=settings.service_name, client_id=settings.kafka_client_id)
    records = MongoRecordRepository(db)
    responses = MongoResponseStore(db)
    datasets = MongoDatasetStore(db, cache_s=settings.dataset_cache_s)
    queue = RedisQueue(redis)
    counters = RedisCounters(redis, rebuild=records.progress_counts)
    model_events = MongoModelEventStore(db)
    http = httpx.AsyncClient()
    trainer = (HttpTrainerEmbeddings(http, trainer_url=settings.trainer_url, service_token=settings.service_token)
               if settings.trainer_url else None)
    vectors = VectorIndex(stored=MongoStoredVectors(db), generations=RedisGenerations(redis), trainer=trainer,
                          trainer_refresh_s=settings.trainer_vectors_refresh_s)
    quarantine = MongoOutboxQuarantine(db)
    users = MongoUserStore(db, cache_s=settings.user_cache_s)
    sessions = SessionCodec(settings.secret_key, max_age_s=settings.session_max_age_s)
    runners = []
    if settings.consumers_enabled:
        runners.append(
            ConsumerRunner(
                service=settings.service_name,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=settings.consumer_group,
                subscriptions=subscriptions(
                    records=records, datasets=datasets, queue=queue, counters=counters, model_events=model_events,
                    vectors=vectors,
                ),
                producer=producer,
                fence=MongoFence(db["processed_events"], settings.consumer_group),
                max_attempts=settings.consumer_max_attempts,
                backoff_initial_s=settings.consumer_backoff_initial_s,
                backoff_max_s=settings.consumer_backoff_max_s,
                session_timeout_ms=settings.kafka_session_timeout_ms,
                max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
                max_records=settings.consumer_batch_max,
                heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
                rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
            )
        )
    webhooks = build_webhooks(settings, db)
    if settings.consumers_enabled and settings.webhooks_enabled:
        runners.append(webhook_runner(settings, webhooks, producer))
    relay = OutboxRelay(
        responses=responses,
        records=records,
        queue=queue,
        counters=counters,
        publisher=publisher or producer,
        load_spec=spec_loader(datasets),
        quarantine=quarantine,
        max_event_bytes=settings.outbox_max_event_bytes,
        batch=settings.outbox_batch,
        poll_s=settings.outbox_poll_s,
        linger_s=settings.outbox_linger_s,
        service=settings.service_name,
        lock=RedisRelayLock(redis),
    )
    return Deps(
        settings=settings,
        mongo=mongo,
        redis=redis,
        producer=producer,
        kafka=KafkaRuntime(producer, runners),
        records=records,
        responses=responses,
        datasets=datasets,
        users=users,
        workspaces=MongoWorkspaceStore(db),
        api_keys=MongoApiKeyStore(db),
        model_events=model_events,
        queue=queue,
        counters=counters,
        limiter=RedisLoginLimiter(
            redis,
            max_failures=settings.login_max_failures,
            lockout_s=settings.login_lockout_s,
            per_minute=settings.login_rate_per_minute,
        ),
        sessions=sessions,
        relay=relay,
        publisher=publisher or producer,
        vectors=vectors,
        http=http,
        webhook_subscriptions=webhooks.subscriptions,
        webhook_deliveries=webhooks.deliveries,
        webhook_cache=webhooks.cache,
        webhooks=webhooks.dispatcher,
        webhook_sender=webhooks.sender,
        quarantine=quarantine,
        auth=Authenticator(service_token=settings.service_token, api_keys=MongoApiKeyLookup(db), users=users.record, sessions=sessions),
    )


@dataclass
class WebhookParts:
    subscriptions: MongoWebhookSubscriptions
    deliveries: MongoWebhookDeliveries
    cache: SubscriptionCache
    sender: HttpWebhookSender
    dispatcher: WebhookDispatcher


def build_webhooks(settings: AnnotateSettings, db: Any) -> WebhookParts:
    subscriptions = MongoWebhookSubscriptions(db)
    deliveries = MongoWebhookDeliveries(db)
    cache = SubscriptionCache(subscriptions.all_enabled)
    sender = HttpWebhookSender(
        timeout_s=settings.webhook_timeout_s,
        connect_timeout_s=settings.webhook_connect_timeout_s,
        response_cap_bytes=settings.webhook_response_cap_bytes,
        allow_private=settings.webhook_allow_private_targets,
    )
    options = DispatchOptions(
        schedule=RetrySchedule(
            initial_s=settings.webhook_retry_initial_s,
            factor=settings.webhook_retry_factor,
            max_delay_s=settings.webhook_retry_max_delay_s,
            max_attempts=settings.webhook_max_attempts,
        ),
        allow_private=settings.webhook_allow_private_targets,
        concurrency=settings.webhook_concurrency_per_target,
        queue_per_worker=settings.webhook_queue_per_worker,
        poll_s=settings.webhook_poll_s,
        lease_s=settings.webhook_lease_s,
    )
    dispatcher = WebhookDispatcher(subscriptions=subscriptions, deliveries=deliveries, cache=cache, sender=sender, options=options)
    return WebhookParts(subscriptions, deliveries, cache, sender, dispatcher)


def webhook_runner(settings: AnnotateSettings, webhooks: WebhookParts, producer: EventProducer) -> ConsumerRunner:
    """Webhook fan-out in its own consumer group: it reads every topic at its own pace, apart from
    annotate's handlers.  No fence: deliveries are keyed by (subscription, event id)."""
    return ConsumerRunner(
        service=settings.service_name,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{settings.consumer_group}-webhooks",
        subscriptions=webhook_subscriptions(
            subscriptions=webhooks.cache, deliveries=webhooks.deliveries, dispatch=webhooks.dispatcher, lease_s=settings.webhook_lease_s
        ),
        producer=producer,
        max_attempts=settings.consumer_max_attempts,
        backoff_initial_s=settings.consumer_backoff_initial_s,
        backoff_max_s=settings.consumer_backoff_max_s,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
        max_records=500,
    )


async def prepare_storage(deps: Deps) -> None:
    await deps.records.ensure_indexes()
    await deps.responses.ensure_indexes()
    await deps.quarantine.ensure_indexes()
    await deps.datasets.ensure_indexes()
    await deps.users.ensure_indexes()
    await deps.model_events.ensure_indexes()
    await deps.webhook_subscriptions.ensure_indexes()
    await deps.webhook_deliveries.ensure_indexes()
    for runner in deps.kafka.runners:
        fence = runner._fence
        if isinstance(fence, MongoFence):
            await fence.ensure_indexes()


async def prepare_owner(deps: Deps) -> None:
    """Create the first owner (from settings, or generated in development and printed once)."""
    settings = deps.settings
    generated = await ensure_first_owner(
        username=settings.owner_username,
        password=settings.owner_password,
        workspace=settings.owner_workspace,
        production=settings.is_production,
        users=deps.users,
        workspaces=deps.workspaces,
    )
    if generated is None:
        return
    username, password = generated
    if not settings.state_dir:
        print(f"claystream annotate: created owner {username!r} with password {password!r} (shown once)", flush=True)
        return
    # with a state folder the password goes to a file only its owner reads: stdout is the service's log file,
    # which others may read
    path = Path(settings.state_dir) / "annotate-owner.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{username}\n{password}\n")
    print(f"claystream annotate: created owner {username!r}; the password is in {path} (readable by you only)", flush=True)


SHUTDOWN_STEP_S = 15.0


async def close_deps(deps: Deps) -> None:
    """Each step is bounded: a step that hangs (a peer that never answers) is logged by name and left
    behind, so a shutdown always ends and the later steps still run."""
    steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("outbox relay", deps.relay.stop),
        ("vector index", deps.vectors.close),
        ("http client", deps.http.aclose),
        ("kafka", deps.kafka.stop),
        ("webhook dispatcher", deps.webhooks.stop),
        ("webhook sender", deps.webhook_sender.close),
        ("redis", deps.redis.aclose),
        ("mongo", deps.mongo.close),
    ]
    for name, step in steps:
        try:
            await asyncio.wait_for(step(), timeout=SHUTDOWN_STEP_S)
        except TimeoutError:
            log.warning("shutdown: %s did not stop within %.0f s; left behind", name, SHUTDOWN_STEP_S)
