from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RecordCreate(BaseModel):
    external_id: str | None = Field(default=None, max_length=256)
    fields: dict[str, Any]
    metadata: dict[str, Any] = Field(default_factory=dict)


class RecordsBulkCreate(BaseModel):
    items: list[RecordCreate] = Field(min_length=1, max_length=1000)


class RecordsAccepted(BaseModel):
    accepted: int
    record_ids: list[str]
