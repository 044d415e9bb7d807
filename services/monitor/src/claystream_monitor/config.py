from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from claystream_common.settings import BaseAppSettings


class MonitorSettings(BaseAppSettings):
    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_MONITOR_", extra="ignore", frozen=True)

    service_name: str = "monitor"
