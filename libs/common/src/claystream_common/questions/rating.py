"""Rating: an integer from 1 to ``rating_max``; trains as ordered classes ("1" < "2" < ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from claystream_common.questions.agreement import krippendorff_alpha
from claystream_common.questions.base import Agreement, InvalidValue, QuestionType, rated
from claystream_common.questions.label import _rounded

if TYPE_CHECKING:
    from claystream_common.datasets import QuestionSpec


class RatingSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    rating_max: int = Field(ge=2, le=10)


class RatingType(QuestionType):
    name = "rating"
    title = "Rating"
    partial = "questions/rating.html"
    settings_model = RatingSettings
    training_kind = "ordinal"

    def settings_from_form(self, labels: list[str], text_field: str) -> dict[str, Any]:
        return {"rating_max": max(2, min(10, len(labels) or 5))}

    def labels_for(self, spec: QuestionSpec) -> list[str]:
        """The ordered classes, as strings ("1", "2", ...)."""
        return [str(v) for v in range(1, (spec.rating_max or 0) + 1)]

    def options(self, spec: QuestionSpec) -> list[Any]:
        return list(range(1, (spec.rating_max or 0) + 1))

    def normalise(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any] | None = None) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= (spec.rating_max or 0):
            raise InvalidValue(f"must be an integer from 1 to {spec.rating_max}")
        return value

    def value_from_form(self, spec: QuestionSpec, form: Any) -> Any:
        raw = super().value_from_form(spec, form)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise InvalidValue(f"must be an integer from 1 to {spec.rating_max}") from None

    def training_target(self, spec: QuestionSpec, value: Any) -> Any:
        return str(value)

    def counted_items(self, spec: QuestionSpec, value: Any) -> list[str]:
        return [str(value)]

    def agreement(self, spec: QuestionSpec, units: Mapping[str, Mapping[str, Any]]) -> Agreement:
        """Krippendorff's alpha, ordinal: 2 is nearer 3 than 5, but the steps need not be equal."""
        votes = rated(units)
        value = krippendorff_alpha((list(v.values()) for v in votes.values()), "ordinal")
        return Agreement("alpha (ordinal)", _rounded(value), len(votes))
