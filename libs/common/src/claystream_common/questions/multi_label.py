"""Multi-label: a set of the question's labels (stored in label order, repeats folded, so
ingest and annotate store the same thing); trains one-vs-rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from claystream_common.questions.agreement import krippendorff_alpha
from claystream_common.questions.base import Agreement, InvalidValue, QuestionType, as_list, rated
from claystream_common.questions.label import LabelSettings, _rounded

if TYPE_CHECKING:
    from claystream_common.datasets import QuestionSpec


class MultiLabelType(QuestionType):
    name = "multi_label"
    title = "Multi-label"
    partial = "questions/multi_label.html"
    settings_model = LabelSettings
    training_kind = "multi_label"
    chooses_labels = True

    def labels_for(self, spec: QuestionSpec) -> list[str]:
        return list(spec.labels)

    def normalise(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any] | None = None) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidValue("must be a list of labels")
        position = {label: index for index, label in enumerate(spec.labels)}  # linear, whatever the sizes
        unknown = [v for v in value if v not in position]
        if unknown:
            raise InvalidValue(f"unknown labels {unknown}; allowed {spec.labels}")
        return sorted(set(value), key=position.__getitem__)

    def is_empty(self, spec: QuestionSpec, value: Any) -> bool:
        return not value

    def value_from_form(self, spec: QuestionSpec, form: Any) -> Any:
        key = f"q.{spec.name}"
        items = form.getlist(key) if hasattr(form, "getlist") else as_list(form.get(key))
        chosen = [str(v) for v in items if str(v)]
        if chosen or key + ".present" in form:
            return chosen
        return None

    def bulk_value(self, spec: QuestionSpec, label: str) -> Any:
        return self.normalise(spec, [label])

    def training_target(self, spec: QuestionSpec, value: Any) -> Any:
        return list(value)

    def counted_items(self, spec: QuestionSpec, value: Any) -> list[str]:
        return [str(v) for v in as_list(value)]

    def agreement(self, spec: QuestionSpec, units: Mapping[str, Mapping[str, Any]]) -> Agreement:
        """Krippendorff's alpha, nominal, on the label set as one category (exact-set agreement)."""
        votes = rated(units)
        coded = ([tuple(sorted(map(str, as_list(v)))) for v in answers.values()] for answers in votes.values())
        return Agreement("alpha (nominal, exact set)", _rounded(krippendorff_alpha(coded, "nominal")), len(votes))
