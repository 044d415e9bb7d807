"""Dataset settings in the shape Argilla 2.x users know: ``Settings(fields=[...], questions=[...],
metadata=[...], vectors=[...], guidelines=..., distribution=...)``, sent as annotate's DatasetSpec."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TextField:
    name: str
    title: str | None = None
    required: bool = True
    use_markdown: bool = False

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "required": self.required, "use_markdown": self.use_markdown}


@dataclass
class LabelQuestion:
    name: str
    labels: list[str]
    title: str | None = None
    required: bool = True
    kind = "label"

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "type": self.kind, "labels": list(self.labels), "required": self.required}


@dataclass
class MultiLabelQuestion(LabelQuestion):
    kind = "multi_label"


@dataclass
class RatingQuestion:
    name: str
    values: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    title: str | None = None
    required: bool = True

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "type": "rating", "rating_max": max(self.values), "required": self.required}


@dataclass
class TextQuestion:
    name: str
    title: str | None = None
    required: bool = True
    use_markdown: bool = False

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "type": "text", "required": self.required}


@dataclass
class TermsMetadataProperty:
    name: str
    options: list[str] | None = None
    kind = "terms"

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "type": self.kind}
        if self.options is not None:
            body["values"] = list(self.options)
        return body


@dataclass
class IntegerMetadataProperty:
    name: str
    kind = "integer"

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind}


@dataclass
class FloatMetadataProperty(IntegerMetadataProperty):
    kind = "float"


@dataclass
class VectorField:
    """A named embedding per record (cosine similarity search); the contract is
    ``vectors: [{name, title, dimensions}]`` on the dataset."""

    name: str
    dimensions: int
    title: str | None = None

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "dimensions": self.dimensions}


@dataclass
class TaskDistribution:
    """How many submitted answers complete a record."""

    min_submitted: int = 1


QUESTION_TYPES: dict[str, Any] = {"label": LabelQuestion, "multi_label": MultiLabelQuestion}
METADATA_TYPES: dict[str, Any] = {"terms": TermsMetadataProperty, "integer": IntegerMetadataProperty,
                                  "float": FloatMetadataProperty}


@dataclass
class Settings:
    fields: list[TextField] = field(default_factory=list)
    questions: list[Any] = field(default_factory=list)
    metadata: list[Any] = field(default_factory=list)
    vectors: list[VectorField] = field(default_factory=list)
    guidelines: str = ""
    distribution: TaskDistribution = field(default_factory=TaskDistribution)
    trainer: dict[str, Any] | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "guidelines": self.guidelines,
            "fields": [f.to_body() for f in self.fields],
            "questions": [q.to_body() for q in self.questions],
            "metadata_properties": [m.to_body() for m in self.metadata],
            "min_submitted": self.distribution.min_submitted,
        }
        if self.vectors:
            body["vectors"] = [v.to_body() for v in self.vectors]
        if self.trainer is not None:
            body["trainer"] = dict(self.trainer)
        return body

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Settings:
        questions: list[Any] = []
        for q in body.get("questions") or []:
            if q["type"] in QUESTION_TYPES:
                questions.append(QUESTION_TYPES[q["type"]](q["name"], list(q.get("labels") or []), q.get("title"), q.get("required", True)))
            elif q["type"] == "rating":
                questions.append(RatingQuestion(q["name"], list(range(1, int(q["rating_max"]) + 1)), q.get("title"), q.get("required", True)))
            else:
                questions.append(TextQuestion(q["name"], q.get("title"), q.get("required", True)))
        metadata = []
        for m in body.get("metadata_properties") or []:
            kind = METADATA_TYPES[m["type"]]
            metadata.append(kind(m["name"], m.get("values")) if kind is TermsMetadataProperty else kind(m["name"]))
        return cls(
            fields=[TextField(f["name"], f.get("title"), f.get("required", True), f.get("use_markdown", False))
                    for f in body.get("fields") or []],
            questions=questions,
            metadata=metadata,
            vectors=[VectorField(v["name"], int(v["dimensions"]), v.get("title")) for v in body.get("vectors") or []],
            guidelines=body.get("guidelines") or "",
            distribution=TaskDistribution(int(body.get("min_submitted") or 1)),
            trainer=body.get("trainer"),
        )
