"""What every question type is: one object owning its settings, values, agreement, training and partial.

A type never looks at another type's name; services never look at a type's name either: they ask
the type (``question_type(spec).<something>``).  See ``docs/QUESTION_TYPES.md`` for adding one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from claystream_common.datasets import DatasetSpec, QuestionSpec

TrainingKind = Literal["single_label", "multi_label", "ordinal"]


class InvalidValue(ValueError):
    """A value a question refuses; ``reason`` says why in words a caller can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Agreement:
    """Inter-annotator agreement of one question: the measure's name, its value (None: not
    computable yet) and how many records (with two or more answers) it is computed on."""

    measure: str | None
    value: float | None
    records: int


class NoSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")


class QuestionType:
    """Base of every question type (one subclass per module, registered in ``registry.py``)."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: the annotate template that renders it, under ``annotate/``
    partial: ClassVar[str]
    #: the settings this type reads from :class:`QuestionSpec` (validated on every dataset load)
    settings_model: ClassVar[type[BaseModel]] = NoSettings
    #: how the trainer learns it (None: it does not train)
    training_kind: ClassVar[TrainingKind | None] = None
    #: the answer is chosen from ``labels_for(spec)`` (such questions can be applied in bulk and predicted)
    chooses_labels: ClassVar[bool] = False
    #: validating a value needs the record's fields (e.g. character offsets into a text)
    needs_fields: ClassVar[bool] = False
    #: labels may be added to an existing question (False: a value names every label, so one added later would
    #: make every stored answer and suggestion incomplete)
    labels_may_grow: ClassVar[bool] = True

    # ------------------------------------------------------------------ settings
    def check_settings(self, spec: QuestionSpec) -> None:
        """Raise ValueError when the question's settings do not fit this type."""
        data = {name: getattr(spec, name) for name in self.settings_model.model_fields}
        try:
            self.settings_model.model_validate(data)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise ValueError(f"{self.name} question {spec.name!r}: {where}: {problem['msg']}") from None

    def check_in_dataset(self, spec: QuestionSpec, dataset: DatasetSpec) -> None:
        """Raise ValueError when the question does not fit the dataset (e.g. names a missing field)."""

    def settings_from_form(self, labels: list[str], text_field: str) -> dict[str, Any]:
        """The settings of a new question from the "new dataset" form (labels, the text field)."""
        return {"labels": labels}

    def labels_for(self, spec: QuestionSpec) -> list[str]:
        """The label set (training classes, bulk labels); empty when the type has none."""
        return []

    def options(self, spec: QuestionSpec) -> list[Any]:
        """What the UI offers to choose from, in order (each gets a digit hotkey)."""
        return self.labels_for(spec)

    # ------------------------------------------------------------------ values
    def normalise(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any] | None = None) -> Any:
        """The stored form of ``value`` or :class:`InvalidValue`.  ``fields``: the record's fields
        (given whenever ``needs_fields``).  Ingest (suggestions) and annotate (answers) both call this."""
        raise NotImplementedError

    def is_empty(self, spec: QuestionSpec, value: Any) -> bool:
        """An answer that says nothing (a required question refuses it at submit)."""
        return value is None

    def value_from_form(self, spec: QuestionSpec, form: Any) -> Any:
        """The raw value from the annotation form (field ``q.<name>``); None when not answered."""
        raw = form.get(f"q.{spec.name}")
        if raw is None or not str(raw).strip():
            return None
        return str(raw)

    def bulk_value(self, spec: QuestionSpec, label: str) -> Any:
        """The answer meaning "this one label" (bulk view); only for ``chooses_labels`` types."""
        raise InvalidValue(f"{self.name} questions cannot be applied in bulk")

    def training_target(self, spec: QuestionSpec, value: Any) -> Any:
        """What the trainer learns from a stored answer (a label, a list of labels, an ordered class)."""
        return value

    def counted_items(self, spec: QuestionSpec, value: Any) -> list[str]:
        """The items a value contributes to the label distribution (none for free text)."""
        return []

    def export_value(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any]) -> Any:
        """The value as exported (spans add the covered text)."""
        return value

    def cell(self, spec: QuestionSpec, value: Any) -> str:
        """One CSV / parquet cell."""
        if isinstance(value, list):
            return ";".join(str(v) for v in value)
        return "" if value is None else str(value)

    # ------------------------------------------------------------------ agreement
    def agreement(self, spec: QuestionSpec, units: Mapping[str, Mapping[str, Any]]) -> Agreement:
        """Agreement over ``units`` (record → {user: stored value}); only records with ≥ 2 answers count."""
        return Agreement(None, None, len(rated(units)))

    # ------------------------------------------------------------------ the annotation page
    def view_context(self, spec: QuestionSpec, chosen: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Extra template context for the partial (beyond options, text and suggestion)."""
        return {}


def rated(units: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {record: votes for record, votes in units.items() if len(votes) >= 2}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def distinct_labels(values: Sequence[str]) -> list[str]:
    if len(values) < 2 or len(set(values)) != len(values):
        raise ValueError("needs at least two distinct labels")
    return list(values)
