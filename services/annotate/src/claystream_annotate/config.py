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

    # queue, outbox, pages
    lease_ttl_s: int = Field(default=300, ge=5)
    queue_scan: int = Field(default=64, ge=8, le=1000, description="queue candidates fetched per step")
    outbox_poll_s: float = Field(default=1.0, gt=0)
    outbox_batch: int = Field(default=500, ge=1)
    outbox_enabled: bool = True
    page_max: int = Field(default=200, ge=1, le=1000)
    dataset_cache_s: float = Field(default=2.0, ge=0)
    trainer_vectors_refresh_s: float = Field(default=30.0, gt=0, description="age at which the similarity index "
                                             "reloads the trainer's embeddings (in the background)")

    # other services (the launcher passes them; optional)
    annotate_url: str | None = None
    ingest_url: str | None = None
    trainer_url: str | None = None
    monitor_url: str | None = None
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
