"""Settings base shared by every service.

Each service subclasses :class:`BaseAppSettings` with its own env prefix
(``CLAYSTREAM_<NAME>_``).  Settings are never built at import time: call
:func:`load_settings` from ``main``/``bootstrap``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-change-me"


class RunMode(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(SystemExit):
    """Raised (as a clean process exit) when settings are missing or malformed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class BaseAppSettings(BaseSettings):
    """What every service needs: where the servers are, how to run, telemetry."""

    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_", extra="ignore", frozen=True)

    service_name: str = "claystream"
    mode: RunMode = RunMode.DEVELOPMENT
    secret_key: str = Field(default=DEFAULT_SECRET_KEY, min_length=16)
    service_token: str = Field(
        default="dev-service-token-change-me",
        min_length=16,
        description="shared bearer token services use to call each other's internal APIs",
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str | None = None
    kafka_consumer_group: str | None = None
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(default=1_000, ge=100)
    kafka_rebalance_timeout_ms: int = Field(default=10_000, ge=1_000)
    # aiokafka's 1 MiB holds ~500 review-sized events: a 1,000-event poll waited on a second fetch round trip
    # and the monitor idled 40 % of the time (bench/drift.py ~4,700 → 5,500 events/s with 8 MiB)
    kafka_max_partition_fetch_bytes: int = Field(
        default=8 * 1024 * 1024, ge=64 * 1024, description="bytes a consumer fetches from one partition per request"
    )
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_initial_s: float = Field(default=0.2, gt=0)
    consumer_backoff_max_s: float = Field(default=5.0, gt=0)
    consumers_enabled: bool = True

    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = "claystream"
    mongo_timeout_ms: int = Field(default=5_000, ge=100)
    redis_url: str = "redis://127.0.0.1:6379/0"

    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    public_docs: bool | None = Field(default=None, description="/docs, /redoc, /openapi.json without the service token (default: not in production)")
    public_metrics: bool | None = Field(default=None, description="/metrics without a token (default: not in production)")
    metrics_token: str = Field(default="", description="bearer token Prometheus sends for /metrics (the service token works too)")

    otlp_endpoint: str | None = None
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> "BaseAppSettings":
        if self.mode is RunMode.PRODUCTION:
            for name, value in self.secret_values().items():
                if value is None or value == DEFAULT_SECRET_KEY or value.startswith("dev-"):
                    raise ValueError(
                        f"{name}: refusing to start in production mode with a default or empty secret"
                    )
        return self

    def secret_values(self) -> dict[str, str | None]:
        """Secrets that production mode must not leave at their defaults (extend in services)."""
        return {"secret_key": self.secret_key, "service_token": self.service_token}

    @property
    def is_production(self) -> bool:
        return self.mode is RunMode.PRODUCTION

    @property
    def consumer_group(self) -> str:
        return self.kafka_consumer_group or f"claystream-{self.service_name}"


SettingsT = TypeVar("SettingsT", bound=BaseAppSettings)


def describe_validation_error(cls: type[BaseAppSettings], error: ValidationError) -> str:
    prefix = cls.model_config.get("env_prefix", "")
    lines = [f"invalid settings for {cls.__name__}:"]
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ()) if part != "__root__"]
        variable = f"{prefix}{loc[0]}".upper() if loc else f"{prefix}*"
        message = item.get("msg", "invalid")
        if not loc and ":" in message:
            field = message.split(":", 1)[0].split()[-1]
            variable = f"{prefix}{field}".upper()
        lines.append(f"  {variable}: {message}")
    return "\n".join(lines)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build settings from the environment, failing fast with the variable named."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(cls, error)) from None
