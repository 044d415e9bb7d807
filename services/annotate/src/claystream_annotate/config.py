from __future__ import annotations

from claystream_common.settings import BaseAppSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

WEAK_PASSWORDS = frozenset({"", "admin", "password", "owner", "changeme", "change-me", "claystream", "12345678"})


class AnnotateSettings(BaseAppSettings):
    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_ANNOTATE_", extra="ignore", frozen=True)

    service_name: str = "annotate"

    # first owner (created at start when no owner exists yet)
    owner_username: str | None = None
    owner_password: str | None = None
    owner_workspace: str = Field(default="default", description="workspace created with the first owner")
    state_dir: str | None = Field(default=None, description="where a generated dev owner password is written")

    # sessions and login
    session_max_age_s: int = Field(default=12 * 3600, ge=60)
    cookie_secure: bool | None = Field(default=None, description="Secure cookies (default: production mode)")
    login_max_failures: int = Field(default=5, ge=1, description="failed logins per username+ip before lockout")
    login_lockout_s: int = Field(default=300, ge=1)
    login_rate_per_minute: int = Field(default=30, ge=1, description="login attempts per ip per minute")

    # consumer, queue, outbox, pages
    consumer_batch_max: int = Field(
        default=4000, ge=1, description="max events per consumer poll (records arrive in thousands: fewer, larger inserts)"
    )
    lease_ttl_s: int = Field(default=300, ge=5)
    queue_scan: int = Field(default=64, ge=8, le=1000, description="queue candidates fetched per step")
    outbox_poll_s: float = Field(default=1.0, gt=0)
    outbox_batch: int = Field(default=500, ge=1)
    outbox_linger_s: float = Field(
        default=0.1, ge=0, le=5, description="after a submit wakes the relay, wait this long so the submits of that "
        "moment share one pass (fewer store round trips competing with requests; docs/PERFORMANCE.md, section 5)"
    )
    outbox_enabled: bool = True
    outbox_max_event_bytes: int = Field(default=900_000, ge=10_000, description="larger outbox entries are quarantined (producer limit: 1 MiB)")
    page_max: int = Field(default=200, ge=1, le=1000)
    dataset_cache_s: float = Field(default=2.0, ge=0)
    trainer_vectors_refresh_s: float = Field(default=30.0, gt=0, description="age at which the similarity index "
                                             "reloads the trainer's embeddings (in the background)")

    # outgoing webhooks (delivery runs in this service: see services/webhooks/README in the annotate README)
    webhooks_enabled: bool = Field(default=True, description="run the webhook fan-out consumer and the delivery workers")
    webhook_allow_private_targets: bool = Field(
        default=False, description="allow targets on loopback/private/link-local addresses (tests, local receivers)"
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=30, description="whole request to a target, connect included")
    webhook_connect_timeout_s: float = Field(default=2.0, gt=0, le=30)
    webhook_response_cap_bytes: int = Field(default=65_536, ge=256, description="response bytes read, the rest dropped")
    webhook_concurrency_per_target: int = Field(default=4, ge=1, le=64)
    webhook_queue_per_worker: int = Field(default=64, ge=1, description="in-memory deliveries waiting per worker")
    webhook_retry_initial_s: float = Field(default=5.0, gt=0)
    webhook_retry_factor: float = Field(default=4.0, ge=1)
    webhook_retry_max_delay_s: float = Field(default=6 * 3600.0, gt=0)
    webhook_max_attempts: int = Field(default=11, ge=1, description="11 attempts at 5 s x 4^n capped at 6 h span about 26 h")
    webhook_poll_s: float = Field(default=1.0, gt=0, description="how often due retries are looked for")
    webhook_lease_s: float = Field(default=120.0, gt=0, description="a claimed delivery is re-claimable after this")
    user_cache_s: float = Field(default=2.0, ge=0, description="a disable, logout or role change made elsewhere counts within this")

    # other services (the launcher passes them; optional)
    annotate_url: str | None = None
    ingest_url: str | None = None
    trainer_url: str | None = None
    monitor_url: str | None = None
    monitor_public_url: str | None = Field(default=None, description=(
        "where browsers reach the monitor's dashboard (its sign-in returns there) when that is not monitor_url"))
    models_dir: str | None = None

    @model_validator(mode="after")
    def _refuse_weak_owner_password(self) -> AnnotateSettings:
        if self.is_production and self.owner_username is not None:
            password = self.owner_password or ""
            if password.lower() in WEAK_PASSWORDS or len(password) < 12:
                raise ValueError("owner_password: refusing to start in production with an empty, default or short password")
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.is_production if self.cookie_secure is None else self.cookie_secure
