"""Ingest settings (env prefix ``CLAYSTREAM_INGEST_``)."""

from __future__ import annotations

from claystream_common.settings import BaseAppSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class IngestSettings(BaseAppSettings):
    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_INGEST_", extra="ignore", frozen=True)

    service_name: str = "ingest"
    annotate_url: str | None = None
    ingest_url: str | None = None
    trainer_url: str | None = None
    monitor_url: str | None = None

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="larger bodies get 413")
    max_records_per_request: int = Field(default=1000, ge=1)
    max_predictions_per_request: int = Field(default=5000, ge=1, description="also feedback items")

    rate_limit_per_s: float = Field(default=1000.0, gt=0, description="requests per second per API key")
    rate_limit_burst: int = Field(default=2000, ge=1, description="requests a key may send at once")

    api_key_cache_ttl_s: float = Field(default=10.0, ge=0, description="revocations take effect within this")
    dataset_cache_ttl_s: float = Field(default=5.0, ge=0, description="schema changes take effect within this")

    kafka_connect_wait_s: float = Field(default=5.0, ge=0, description="start-up wait before serving (not ready)")
    kafka_publish_timeout_s: float = Field(default=15.0, gt=0, description="no ack within this: 503")
    producer_linger_ms: int = Field(default=5, ge=0)
    producer_max_batch_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    max_record_bytes: int = Field(default=1_000_000, ge=1024, description="larger encoded records get a 422 (never a 503)")

    @property
    def record_limit_bytes(self) -> int:
        """What one event (a record, a prediction, a feedback item) may take: the setting, within the
        producer's batch (less headers)."""
        return min(self.max_record_bytes, self.producer_max_batch_bytes - 8 * 1024)
