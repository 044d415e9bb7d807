"""Single label: exactly one of the question's labels (trains as single-label classification)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

from claystream_common.questions.agreement import krippendorff_alpha
from claystream_common.questions.base import Agreement, InvalidValue, QuestionType, distinct_labels, rated

if TYPE_CHECKING:
    from claystream_common.datasets import QuestionSpec


class LabelSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    labels: list[str]

    _distinct = field_validator("labels")(classmethod(lambda cls, v: distinct_labels(v)))


class LabelType(QuestionType):
    name = "label"
    title = "Single label"
    partial = "questions/label.html"
    settings_model = LabelSettings
    training_kind = "single_label"
    chooses_labels = True

    def labels_for(self, spec: QuestionSpec) -> list[str]:
        return list(spec.labels)

    def normalise(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any] | None = None) -> Any:
        if not isinstance(value, str) or value not in spec.labels:
            raise InvalidValue(f"must be one of {spec.labels}, not {value!r}")
        return value

    def bulk_value(self, spec: QuestionSpec, label: str) -> Any:
        return self.normalise(spec, label)

    def counted_items(self, spec: QuestionSpec, value: Any) -> list[str]:
        return [str(value)]

    def agreement(self, spec: QuestionSpec, units: Mapping[str, Mapping[str, Any]]) -> Agreement:
        """Krippendorff's alpha, nominal: labels are unordered categories."""
        votes = rated(units)
        value = krippendorff_alpha((list(v.values()) for v in votes.values()), "nominal")
        return Agreement("alpha (nominal)", _rounded(value), len(votes))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
