from __future__ import annotations

from pathlib import Path
from typing import Literal

from claystream_common.settings import BaseAppSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class TrainerSettings(BaseAppSettings):
    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_TRAINER_", extra="ignore", frozen=True)

    service_name: str = "trainer"
    annotate_url: str | None = None
    ingest_url: str | None = None
    monitor_url: str | None = None

    # --- where things live
    models_dir: Path = Field(default=Path(".state/models"), description="artifacts and the embedding cache")
    base_model_path: Path | None = Field(
        default=None, description="a sentence-transformers model directory (default: the packaged all-MiniLM-L6-v2)"
    )
    embedder: Literal["sentence-transformers", "hashing"] = Field(
        default="sentence-transformers", description="'hashing' is a tiny deterministic embedder for tests and demos"
    )

    # --- embedding (shared by the cache, refresh and predict)
    max_seq_length: int = Field(default=128, ge=16, le=512, description="tokens per chunk")
    max_chunks: int = Field(default=1, ge=1, le=16, description="1: head only; 2: head + tail; more: evenly spread")
    embed_batch_size: int = Field(default=32, ge=1, le=1024)
    embed_flush_s: float = Field(default=0.5, ge=0, description="how long the cache waits to fill a batch")
    torch_threads: int = Field(default=2, ge=1, le=256,
                               description="PyTorch threads; the ONNX body runs this many single-threaded lanes")
    quantize_inference: bool = Field(default=False, description="torch dynamic int8 quantisation of the predict body")
    inference_runtime: Literal["onnx", "torch"] = Field(
        default="onnx", description="inference bodies on ONNX Runtime (exported once per body; torch if that fails)"
    )
    onnx_int8: bool = Field(default=True, description="int8 dynamic quantisation of the ONNX body (bench/onnx_body.py)")

    # --- training
    lock_lease_s: float = Field(default=30.0, gt=0)
    debounce_s: float = Field(default=2.0, ge=0)
    label_event_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, description="how long a counted event id is remembered")
    memory_budget_mb: int = Field(default=4096, ge=256, description="cap on a fine-tune's estimated peak memory")
    finetune_batch_size: int = Field(default=16, ge=2)
    finetune_max_steps: int = Field(default=30, ge=1, description="~3.3 s a step on 2 idle cores (MiniLM, 128 tokens, batch 16)")
    finetune_num_iterations: int = Field(default=20, ge=1, description="pair budget; max_steps caps the pairs used")
    finetune_learning_rate: float = Field(default=1.5e-4, gt=0, description="high: a short run must move the body")
    finetune_pseudo_labels: int = Field(
        default=400, ge=0, description="confident pending records (labelled by the pool student) added to a fine-tune")
    finetune_holdout: float = Field(default=0.2, gt=0, lt=0.5)
    finetune_enabled: bool = True
    student_enabled: bool = Field(default=True, description="self-train a lexical student on the pending records")
    student_max_pool: int = Field(default=20_000, ge=1, description="pending records a refresh self-trains on")
    student_min_pool: int = Field(default=200, ge=1, description="fewer pending records: no student")
    suggestion_batch: int = Field(default=2000, ge=1)
    seed: int = 42

    # --- the shared model store (trainer writes, predict replicas read) and the predict role
    model_store: Literal["filesystem", "gridfs"] = Field(
        default="filesystem", description="filesystem: MODELS_DIR is the store; gridfs: MongoDB GridFS, MODELS_DIR a cache")
    model_store_part_mb: int = Field(default=16, ge=1, le=40, description="gridfs: artifact files are split into parts")
    replica_id: str | None = Field(default=None, description="predict role: this replica's name (default host-pid)")

    # --- predict
    predict_max_batch: int = Field(default=1024, ge=1)
    champion_cache_s: float = Field(default=2.0, ge=0, description="how long predict trusts its view of the champion")
    admin_roles: tuple[str, ...] = ("admin", "owner")
