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


def _string(datasets: Any) -> Any:
    return datasets.Value("string")


@dataclass
class LabelQuestion:
    name: str
    labels: list[str]
    title: str | None = None
    required: bool = True
    kind = "label"

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "type": self.kind, "labels": list(self.labels), "required": self.required}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Any:
        return cls(body["name"], list(body.get("labels") or []), body.get("title"), body.get("required", True))

    def value_feature(self, datasets: Any) -> Any:
        """The ``datasets`` feature of one answer (``datasets`` is the imported module)."""
        return _string(datasets)


@dataclass
class MultiLabelQuestion(LabelQuestion):
    kind = "multi_label"

    def value_feature(self, datasets: Any) -> Any:
        return datasets.Sequence(_string(datasets))


@dataclass
class RatingQuestion:
    """Ratings are the integers 1..N (2 ≤ N ≤ 10): ``values`` must be exactly that run (other values are
    refused here, not silently stored as another scale)."""

    name: str
    values: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    title: str | None = None
    required: bool = True
    kind = "rating"

    def __post_init__(self) -> None:
        values = list(self.values)
        if not 2 <= len(values) <= 10 or values != list(range(1, len(values) + 1)):
            raise ValueError(f"rating question {self.name!r}: values must be 1, 2, ... N with 2 <= N <= 10, not {values}")

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "type": self.kind, "rating_max": max(self.values), "required": self.required}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Any:
        return cls(body["name"], list(range(1, int(body["rating_max"]) + 1)), body.get("title"), body.get("required", True))

    def value_feature(self, datasets: Any) -> Any:
        return datasets.Value("int64")


@dataclass
class TextQuestion:
    name: str
    title: str | None = None
    required: bool = True
    use_markdown: bool = False
    kind = "text"

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "type": self.kind, "required": self.required}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Any:
        return cls(body["name"], body.get("title"), body.get("required", True))

    def value_feature(self, datasets: Any) -> Any:
        return _string(datasets)


@dataclass
class SpanQuestion:
    """Labelled character ranges over one text ``field`` (named entities): answers are lists of
    ``{"start", "end", "label"}`` (Python string offsets, ``end`` exclusive)."""

    name: str
    field: str
    labels: list[str]
    allow_overlapping: bool = False
    title: str | None = None
    required: bool = True
    kind = "span"
    checked_against_text = True  # an answer's offsets are checked against its record's field

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "type": self.kind, "labels": list(self.labels), "field": self.field,
                "allow_overlap": self.allow_overlapping, "required": self.required}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Any:
        return cls(body["name"], str(body.get("field") or ""), list(body.get("labels") or []), bool(body.get("allow_overlap")),
                   body.get("title"), body.get("required", True))

    def value_feature(self, datasets: Any) -> Any:
        return [{"start": datasets.Value("int64"), "end": datasets.Value("int64"), "label": _string(datasets)}]


@dataclass
class RankingQuestion:
    """Order every one of ``values``, best first, without ties."""

    name: str
    values: list[str]
    title: str | None = None
    required: bool = True
    kind = "ranking"

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "type": self.kind, "labels": list(self.values), "required": self.required}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Any:
        return cls(body["name"], list(body.get("labels") or []), body.get("title"), body.get("required", True))

    def value_feature(self, datasets: Any) -> Any:
        return datasets.Sequence(_string(datasets))


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


QUESTION_TYPES: dict[str, Any] = {
    kind.kind: kind for kind in (LabelQuestion, MultiLabelQuestion, RatingQuestion, TextQuestion, SpanQuestion, RankingQuestion)
}
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
        unknown = [q["type"] for q in body.get("questions") or [] if q["type"] not in QUESTION_TYPES]
        if unknown:  # never read one as another type: sent back (dataset.update), that would change the dataset
            raise ValueError(f"question types {unknown} are unknown to this SDK (knows {sorted(QUESTION_TYPES)}): upgrade it")
        questions = [QUESTION_TYPES[q["type"]].from_body(q) for q in body.get("questions") or []]
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
