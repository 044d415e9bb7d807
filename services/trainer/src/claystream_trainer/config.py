from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from claystream_common.settings import BaseAppSettings


class TrainerSettings(BaseAppSettings):
    model_config = SettingsConfigDict(env_prefix="CLAYSTREAM_TRAINER_", extra="ignore", frozen=True)

    service_name: str = "trainer"
