"""The event envelope and the typed event payloads that travel between services.

Envelope fields: ``event_id`` (UUID, the idempotency key), ``type`` (dotted name),
``schema_version`` ("MAJOR.MINOR"), ``occurred_at``, ``workspace``, ``dataset``,
``traceparent`` (W3C) and ``data`` (the typed payload).  Consumers ignore unknown
optional fields and refuse unknown major versions (the runner sends them to the DLQ).
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import from_json

from claystream_common.topics import Topic

SUPPORTED_MAJOR = 1
DEFAULT_SCHEMA_VERSION = "1.0"


class EventData(BaseModel):
    """Base of every payload: unknown fields are ignored (forward compatible)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


DataT = TypeVar("DataT", bound=EventData)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel, Generic[DataT]):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(pattern=r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
    schema_version: str = Field(default=DEFAULT_SCHEMA_VERSION, pattern=r"^\d+\.\d+$")
    occurred_at: datetime = Field(default_factory=utcnow)
    workspace: str | None = None
    dataset: str | None = None
    traceparent: str | None = None
    #: W3C traceparents of related traces (e.g. the request that answered a record whose own trace carries the
    #: event); the publish span links them
    links: list[str] = Field(default_factory=list)
    data: DataT

    @property
    def major_version(self) -> int:
        return int(self.schema_version.split(".", 1)[0])


# --------------------------------------------------------------------------- records
class RecordSuggestion(EventData):
    question: str
    value: Any
    score: float | None = None
    agent: str | None = None
    model_version: str | None = None


class RecordIngested(EventData):
    record_id: str
    external_id: str | None = None
    fields: dict[str, Any]
    metadata: dict[str, Any] = Field(default_factory=dict)
    suggestions: list[RecordSuggestion] = Field(default_factory=list)
    vectors: dict[str, list[float]] = Field(default_factory=dict)
    origin: str = "api"


class RecordDeleted(EventData):
    """Annotate deleted a record and its responses: every service forgets what it holds of it (the trainer
    its text and labels).  Keyed by the record id on the records topic, so it comes after the record's own
    ``record.ingested`` in its partition, and a record logged again later comes after it."""

    record_id: str
    deleted_by: str | None = None


# --------------------------------------------------------------------------- responses
ResponseStatus = Literal["submitted", "draft", "discarded"]


class ResponseChanged(EventData):
    response_id: str
    record_id: str
    user_id: str
    status: ResponseStatus
    values: dict[str, Any] = Field(default_factory=dict)
    previous_values: dict[str, Any] | None = None
    version: int = 1


class RecordCompleted(EventData):
    record_id: str
    submitted_count: int


# --------------------------------------------------------------------------- suggestions
class SuggestionCreated(EventData):
    record_id: str
    question: str
    label: Any
    score: float
    scores: dict[str, float] = Field(default_factory=dict)
    model_version: str
    priority: float = 0.0
    agent: str = "claystream-trainer"


# --------------------------------------------------------------------------- models
class TrainingStarted(EventData):
    run_id: str
    kind: Literal["refresh", "finetune"]
    label_count: int
    total_steps: int | None = None


class TrainingProgress(EventData):
    run_id: str
    kind: Literal["refresh", "finetune"]
    step: int
    total_steps: int
    eta_s: float | None = None


class ModelTrained(EventData):
    run_id: str
    model_version: str
    kind: Literal["refresh", "finetune"]
    label_count: int
    metrics: dict[str, Any] = Field(default_factory=dict)
    duration_s: float | None = None


class ModelPromoted(EventData):
    model_version: str
    previous_version: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)


class TrainingFailed(EventData):
    run_id: str
    kind: Literal["refresh", "finetune"]
    error: str


# --------------------------------------------------------------------------- production traffic
class PredictionLogged(EventData):
    request_id: str
    model: str
    model_version: str | None = None
    text: str
    predicted_label: str
    # multi-label models: every predicted label (predicted_label is then the most probable one)
    predicted_labels: list[str] | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    predicted_at: datetime = Field(default_factory=utcnow)


class FeedbackLogged(EventData):
    request_id: str
    model: str | None = None
    true_label: str | None = None
    signal: str | None = None
    received_at: datetime = Field(default_factory=utcnow)


# --------------------------------------------------------------------------- drift
class DriftChanged(EventData):
    model: str
    model_version: str | None = None
    check: str
    statistic: float
    threshold: float
    p_value: float | None = None
    window: dict[str, Any] = Field(default_factory=dict)
    evidence: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- datasets
class DatasetDeleted(EventData):
    """A dataset was deleted (envelope ``workspace`` and ``dataset`` name it): every service drops what it
    holds of it, so a new dataset with the same name starts clean."""

    dataset_id: str | None = None
    deleted_by: str | None = None


# --------------------------------------------------------------------------- registry
EVENT_TYPES: dict[str, tuple[Topic, type[EventData]]] = {
    "record.ingested": (Topic.RECORDS, RecordIngested),
    "record.deleted": (Topic.RECORDS, RecordDeleted),
    "response.submitted": (Topic.RESPONSES, ResponseChanged),
    "response.updated": (Topic.RESPONSES, ResponseChanged),
    "response.discarded": (Topic.RESPONSES, ResponseChanged),
    "record.completed": (Topic.RESPONSES, RecordCompleted),
    "suggestion.created": (Topic.SUGGESTIONS, SuggestionCreated),
    "training.started": (Topic.MODELS, TrainingStarted),
    "training.progress": (Topic.MODELS, TrainingProgress),
    "model.trained": (Topic.MODELS, ModelTrained),
    "model.promoted": (Topic.MODELS, ModelPromoted),
    "training.failed": (Topic.MODELS, TrainingFailed),
    "prediction.logged": (Topic.PREDICTIONS, PredictionLogged),
    "feedback.logged": (Topic.FEEDBACK, FeedbackLogged),
    "drift.detected": (Topic.DRIFT, DriftChanged),
    "drift.resolved": (Topic.DRIFT, DriftChanged),
    "dataset.deleted": (Topic.DATASETS, DatasetDeleted),
}


def topic_for(event_type: str) -> Topic:
    return EVENT_TYPES[event_type][0]


@functools.cache
def envelope_model(event_type: str) -> type[Envelope[Any]]:
    """The typed envelope class of a registered event type (cached: parametrising is slow)."""
    return Envelope[EVENT_TYPES[event_type][1]]  # type: ignore[valid-type]


def new_event(
    event_type: str,
    data: EventData,
    *,
    dataset: str | None = None,
    workspace: str | None = None,
    event_id: uuid.UUID | None = None,
    traceparent: str | None = None,
    links: list[str] | None = None,
) -> Envelope[Any]:
    """Build an envelope, checking that the payload is the registered model for the type."""
    _, model = EVENT_TYPES[event_type]
    if not isinstance(data, model):
        raise TypeError(f"{event_type} carries {model.__name__}, not {type(data).__name__}")
    return envelope_model(event_type)(
        event_id=event_id or uuid.uuid4(),
        type=event_type,
        dataset=dataset,
        workspace=workspace,
        traceparent=traceparent,
        links=links or [],
        data=data,
    )


def encode_event(event: Envelope[Any]) -> bytes:
    return event.model_dump_json().encode()


class EventDecodeError(ValueError):
    """A message that can never be processed (permanent: goes to the DLQ)."""


def decode_event(raw: bytes | None, *, expected_types: set[str] | None = None) -> Envelope[Any]:
    """Decode and validate bytes into the typed envelope of its registered event type."""
    if raw is None:
        raise EventDecodeError("empty message value")
    try:
        document = from_json(raw)  # pydantic's parser: ~2.5x json.loads on these payloads, same values
    except (ValueError, RecursionError) as error:  # bad UTF-8 / JSON, or nested too deeply
        raise EventDecodeError(f"undecodable payload: {str(error)[:200]}") from None
    if not isinstance(document, dict):
        raise EventDecodeError("payload is not a JSON object")
    event_type = document.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise EventDecodeError(f"unknown event type: {event_type!r}")
    if expected_types is not None and event_type not in expected_types:
        raise EventDecodeError(f"unexpected event type on this topic: {event_type}")
    version = document.get("schema_version", DEFAULT_SCHEMA_VERSION)
    if not isinstance(version, str):
        raise EventDecodeError("schema_version must be a string such as '1.0'")
    major = version.split(".", 1)[0]
    if major.lstrip("0") != str(SUPPORTED_MAJOR):  # no int(): "²" or 5,000 digits must not raise
        raise EventDecodeError(f"unsupported schema_version {version[:40]!r} (supported major {SUPPORTED_MAJOR})")
    try:
        return envelope_model(event_type).model_validate(document)
    except ValidationError as error:
        raise EventDecodeError(f"invalid {event_type}: {_summarise(error)}") from None


def _summarise(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        loc = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{loc}: {item.get('msg')}")
    return "; ".join(parts)
