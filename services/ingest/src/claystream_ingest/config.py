from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from claystream_common.settings import BaseAppSettings


class IngestSettings(BaseAppSettings):
    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_INGEST_", extra="ignore", frozen=True)

    service_name: str = "ingest"
