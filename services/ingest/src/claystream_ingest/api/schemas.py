"""Request / response shapes (documentation and tests; the hot path validates with plain checks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class SuggestionIn(BaseModel):
    question: str
    value: Any = Field(description="an allowed label, a list of labels, a rating or text, per the question")
    score: float | None = Field(default=None, ge=0, le=1)
    agent: str | None = None
    model_version: str | None = None


class RecordIn(BaseModel):
    external_id: str | None = Field(default=None, max_length=256, description="your id: re-sending it never duplicates")
    fields: dict[str, str] = Field(description="dataset field name → text")
    metadata: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="declared properties are type-checked; others are kept as plain values"
    )
    suggestions: list[SuggestionIn] = Field(default_factory=list)
    vectors: dict[str, list[float]] = Field(default_factory=dict)
    origin: str | None = Field(default=None, max_length=64, description="where it came from (default: api)")


class RecordsBulkIn(BaseModel):
    items: list[RecordIn] = Field(min_length=1, max_length=1000)


class PredictionIn(BaseModel):
    request_id: str
    model: str
    model_version: str | None = None
    text: str
    predicted_label: str
    scores: dict[str, float] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    predicted_at: datetime | None = None
    dataset: str | None = None


class PredictionsBulkIn(BaseModel):
    items: list[PredictionIn] = Field(min_length=1)


class FeedbackIn(BaseModel):
    request_id: str
    model: str | None = None
    true_label: str | None = None
    signal: str | None = Field(default=None, description="e.g. thumbs_down")
    received_at: datetime | None = None
    dataset: str | None = None


class FeedbackBulkIn(BaseModel):
    items: list[FeedbackIn] = Field(min_length=1)


class ItemError(BaseModel):
    index: int | None
    field: str
    reason: str


class RecordsAcceptedOut(BaseModel):
    accepted: int
    record_ids: list[str] = Field(description="deterministic from (workspace, dataset, external_id), in item order")
    rejected: list[ItemError] = Field(default_factory=list, description="with ?partial=true: the items left out")


class EventsAcceptedOut(BaseModel):
    accepted: int
    event_ids: list[str] = Field(description="one per accepted item, in item order")
    rejected: list[ItemError] = Field(default_factory=list, description="with ?partial=true: the items left out")


class ErrorOut(BaseModel):
    detail: str
    errors: list[ItemError] | None = None


class WhoAmI(BaseModel):
    workspace: str
    key_id: str
    role: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "body is not JSON", 401: "missing or invalid credentials", 403: "key not allowed here",
        404: "unknown dataset",
        413: "body too large", 422: "invalid items, every one listed", 429: "rate limited (Retry-After)",
        503: "Kafka or MongoDB unavailable; nothing accepted (Retry-After)",
    }.items()
}
