"""Record, Suggestion and Response objects (Argilla 2.x names) for ``dataset.records.log``; plain
dicts of the same shape work too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Suggestion:
    question: str
    value: Any
    score: float | None = None
    agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "value": self.value, "score": self.score, "agent": self.agent}


@dataclass
class Response:
    """An existing label: ``user`` is the annotator's username (or id) in the dataset's workspace."""

    question: str
    value: Any
    user: str
    status: str = "submitted"

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "value": self.value, "user": self.user, "status": self.status}


@dataclass
class Record:
    fields: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    suggestions: list[Suggestion] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    vectors: dict[str, list[float]] = field(default_factory=dict)
    id: str | None = None  # your id: becomes external_id, so logging it again never duplicates

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"fields": dict(self.fields)}
        if self.id is not None:
            record["external_id"] = str(self.id)
        if self.metadata:
            record["metadata"] = dict(self.metadata)
        if self.suggestions:
            record["suggestions"] = [s.to_dict() if hasattr(s, "to_dict") else dict(s) for s in self.suggestions]
        if self.responses:
            record["responses"] = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in self.responses]
        if self.vectors:
            record["vectors"] = {name: list(values) for name, values in self.vectors.items()}
        return record


def as_row(item: Any) -> Any:
    """A Record (or anything with ``to_dict``) as a dict; other rows unchanged."""
    return item.to_dict() if isinstance(item, Record) else item
