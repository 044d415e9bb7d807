"""Request and response bodies of the trainer API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PREDICT_TEXT_MAX_CHARS = 20_000  # far past the model's token window; longer is a mistake or an attack (issue 17 finding 9)
PredictText = Annotated[str, Field(min_length=1, max_length=PREDICT_TEXT_MAX_CHARS)]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, min_length=1, max_length=PREDICT_TEXT_MAX_CHARS, description="one text")
    texts: list[PredictText] | None = Field(default=None, min_length=1, description="a batch of texts")
    forward: bool | None = Field(default=None, description="log to the predictions topic (default: dataset setting)")
    request_id: str | None = Field(default=None, min_length=1, max_length=128)
    model_version: str | None = Field(default=None, min_length=1, max_length=32,
                                      description="a registered version to use instead of the champion (shadow tests)")
    component: Literal["embedding", "student"] | None = Field(
        default=None, description="serve this part of the model instead of the one it chose by cross-validation")

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' or 'texts'")
        if self.texts is not None and any(not t for t in self.texts):
            raise ValueError("texts: every text must be non-empty")
        return self

    def batch(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class PredictionPublic(BaseModel):
    label: str = Field(description="the predicted class (multi-label: the most probable one)")
    score: float
    scores: dict[str, float] = Field(description="every class's probability (multi-label: per label)")
    priority: float
    labels: list[str] | None = Field(default=None, description="multi-label questions: every predicted label")


class PredictResponse(BaseModel):
    request_id: str
    dataset: str
    model_version: str
    component: str = Field(description="what answered: the embedding head or the pool student")
    label: str | None = None
    labels: list[str] | None = None
    score: float | None = None
    predictions: list[PredictionPublic]


class ModelPublic(BaseModel):
    version: str
    dataset: str
    workspace: str
    kind: str
    status: str
    label_count: int
    labels: list[str]
    question: str
    base_model: str
    body_ref: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    artifact_path: str
    sha256: str
    created_at: datetime | None
    promoted_at: datetime | None


class ModelList(BaseModel):
    items: list[ModelPublic]
    champion: str | None


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["refresh", "finetune"] = "refresh"


class TrainAccepted(BaseModel):
    dataset: str
    kind: str
    accepted: bool


class FieldError(BaseModel):
    field: str = Field(description="what the answer is about: a body field, a path parameter or a header")
    reason: str


class ErrorOut(BaseModel):
    """The trainer's 4xx answers other than request validation (whose 422 is FastAPI's list of errors)."""

    detail: FieldError


_MEANINGS = {401: "no or unknown credentials", 403: "the credentials may not do this", 404: "no such dataset or model version",
             409: "the request conflicts with the dataset's or the model's state (reason says which)",
             429: "too many shadow model loads right now (Retry-After)"}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: 401 and 403 always, plus ``codes``."""
    return {code: {"model": ErrorOut, "description": _MEANINGS[code]} for code in (401, 403, *codes)}
