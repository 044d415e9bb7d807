"""The only place that builds clients for the trainer service (→ ``Deps``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claystream_common.kafka.consumer import ConsumerRunner
from claystream_common.kafka.producer import EventProducer
from claystream_common.auth import Authenticator
from claystream_common.auth_mongo import MongoApiKeyLookup
from claystream_common.mongo import make_mongo_client, mongo_database
from claystream_common.redis_client import make_redis
from claystream_common.runtime import KafkaRuntime
from pymongo import AsyncMongoClient, MongoClient
from redis.asyncio import Redis

from claystream_trainer.adapters.bodies import LocalBodyProvider
from claystream_trainer.adapters.file_artifacts import FileArtifactStore
from claystream_trainer.adapters.file_embedding_cache import FileEmbeddingCache
from claystream_trainer.adapters.gridfs_artifacts import GridFSArtifactStore
from claystream_trainer.adapters.mongo_records import MongoLabelStore, MongoRecordStore
from claystream_trainer.adapters.mongo_registry import MongoDatasetSpecs, MongoModelRegistry
from claystream_trainer.adapters.redis_counters import RedisLabelCounters
from claystream_trainer.adapters.redis_lock import RedisTrainingLock
from claystream_trainer.config import TrainerSettings
from claystream_trainer.consumers.subscriptions import subscriptions
from claystream_trainer.domain.ports import ArtifactStore, DatasetKey
from claystream_trainer.domain.student import StudentConfig
from claystream_trainer.domain.thresholds import TrainingKind
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.embedding_worker import EmbeddingWorker
from claystream_trainer.services.finetune import run_finetune
from claystream_trainer.services.pool_rows import PoolRowCache
from claystream_trainer.services.pool_student import StudentSetup
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.refresh import RunOutcome, run_refresh
from claystream_trainer.services.scheduler import SchedulerConfig, TrainingScheduler


@dataclass
class Deps:
    settings: TrainerSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: Redis
    producer: EventProducer
    kafka: KafkaRuntime
    ports: TrainerPorts
    champions: ChampionCache
    scheduler: TrainingScheduler
    worker: EmbeddingWorker
    auth: Authenticator
    closers: list[Callable[[], None]] = field(default_factory=list)


def build_model_store(settings: TrainerSettings) -> tuple[ArtifactStore, Callable[[], None]]:
    """The shared model store: the models folder (local runs, one volume) or MongoDB GridFS (clusters)."""
    if settings.model_store == "gridfs":
        client: MongoClient[dict[str, Any]] = MongoClient(
            settings.mongo_url, serverSelectionTimeoutMS=settings.mongo_timeout_ms,
            appname=f"claystream-{settings.service_name}-models")
        store = GridFSArtifactStore(client[settings.mongo_db], settings.models_dir,
                                    part_bytes=settings.model_store_part_mb << 20)
        return store, client.close
    return FileArtifactStore(settings.models_dir), lambda: None


def build_deps(settings: TrainerSettings, *, finetuner: Any | None = None) -> Deps:
    """``finetuner`` replaces the SetFit fine-tuner (tests pass a fake port)."""
    producer = EventProducer(settings.kafka_bootstrap_servers, service=settings.service_name,
                             client_id=settings.kafka_client_id)
    mongo = make_mongo_client(settings)
    db = mongo_database(mongo, settings)
    redis = make_redis(settings)
    bodies = LocalBodyProvider(settings)
    artifacts, close_store = build_model_store(settings)
    if finetuner is None and settings.finetune_enabled and settings.embedder == "sentence-transformers":
        from claystream_trainer.adapters.setfit_finetune import SetFitFineTuner

        finetuner = SetFitFineTuner(bodies.base_path(), max_chunks=settings.max_chunks, threads=settings.torch_threads)
    ports = TrainerPorts(
        records=MongoRecordStore(db), labels=MongoLabelStore(db),
        counters=RedisLabelCounters(redis, event_ttl_s=settings.label_event_ttl_s), lock=RedisTrainingLock(redis),
        registry=MongoModelRegistry(db), artifacts=artifacts,
        cache=FileEmbeddingCache(settings.models_dir), bodies=bodies, specs=MongoDatasetSpecs(db),
        publisher=producer, finetuner=finetuner if settings.finetune_enabled else None,
    )
    champions = ChampionCache(ports, ttl_s=settings.champion_cache_s)
    student = StudentSetup(config=StudentConfig(min_pool=settings.student_min_pool),
                           rows=PoolRowCache(), max_pool=settings.student_max_pool) if settings.student_enabled else None

    def retrain_student(dataset: DatasetKey) -> None:  # the pool now has the new body's vectors
        scheduler.run_now(dataset, "refresh")  # the scheduler's: stopped with its dataset, and at shutdown

    # small batches: predict shares the body (one forward pass at a time) and waits at most one batch
    worker = EmbeddingWorker(ports, champions, batch_size=settings.embed_batch_size * 2,
                             flush_s=settings.embed_flush_s, on_stale_student=retrain_student)
    base_model = str(bodies.base_path()) if settings.embedder == "sentence-transformers" else "hashing"

    async def run_training(dataset: DatasetKey, kind: TrainingKind, run_id: str) -> RunOutcome:
        spec = await ports.specs.get(dataset)
        outcome = await run_refresh(dataset, spec, ports=ports, champions=champions, base_model=base_model,
                                    run_id=run_id, seed=settings.seed, suggestion_batch=settings.suggestion_batch,
                                    student=student)
        if kind == "finetune":  # the fast refresh first: fresh suggestions in seconds, the fine-tune after
            outcome = await run_finetune(dataset, spec, ports=ports, champions=champions,
                                         params=finetune_params(settings, spec), holdout=settings.finetune_holdout,
                                         base_model=base_model, seed=settings.seed,
                                         suggestion_batch=settings.suggestion_batch, on_body_ready=worker.poke,
                                         student=student, pseudo_labels=settings.finetune_pseudo_labels)
        return outcome

    scheduler = TrainingScheduler(ports, run_training, SchedulerConfig(
        debounce_s=settings.debounce_s, lease_s=settings.lock_lease_s,
        finetune_enabled=settings.finetune_enabled and ports.finetuner is not None))
    async def forget_in_memory(dataset: DatasetKey) -> None:
        await scheduler.stop_dataset(dataset)
        champions.drop(dataset)
        worker.forget(dataset)
        bodies.forget(dataset)
        ports.specs.forget(dataset)  # type: ignore[attr-defined]
        if student is not None:
            student.rows.forget(dataset)

    runners = []
    if settings.consumers_enabled:
        runners.append(ConsumerRunner(
            service=settings.service_name, bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.consumer_group, producer=producer,
            subscriptions=subscriptions(ports=ports, embed=worker.poke, train=scheduler.poke,
                                        forget_in_memory=forget_in_memory),
            max_attempts=settings.consumer_max_attempts, backoff_initial_s=settings.consumer_backoff_initial_s,
            backoff_max_s=settings.consumer_backoff_max_s, session_timeout_ms=settings.kafka_session_timeout_ms,
            max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
        ))
    return Deps(settings=settings, mongo=mongo, redis=redis, producer=producer,
                kafka=KafkaRuntime(producer, runners), ports=ports, champions=champions,
                scheduler=scheduler, worker=worker, closers=[close_store],
                auth=Authenticator(service_token=settings.service_token, api_keys=MongoApiKeyLookup(db)))


def finetune_params(settings: TrainerSettings, spec: Any) -> Any:
    from claystream_trainer.adapters.setfit_finetune import FinetuneParams

    max_steps = (spec.trainer.finetune_max_steps if spec is not None else None) or settings.finetune_max_steps
    return FinetuneParams(max_steps=max_steps, batch_size=settings.finetune_batch_size,
                          num_iterations=settings.finetune_num_iterations, max_length=settings.max_seq_length,
                          learning_rate=settings.finetune_learning_rate, memory_budget_mb=settings.memory_budget_mb,
                          seed=settings.seed)


async def start_deps(deps: Deps) -> None:
    for store in (deps.ports.records, deps.ports.labels, deps.ports.registry):
        await store.ensure_indexes()  # type: ignore[attr-defined]
    deps.worker.start()
    await deps.kafka.start()
    await deps.scheduler.resume()


async def close_deps(deps: Deps) -> None:
    await deps.scheduler.close()
    await deps.worker.stop()
    await deps.kafka.stop()
    await deps.redis.aclose()
    await deps.mongo.close()
    for close in deps.closers:
        close()
