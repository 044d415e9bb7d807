"""Span: labelled character ranges over one text field (named entities, evidence, ...).

A value is a list of ``{"start": int, "end": int, "label": str}``; offsets count Unicode code points
of the field's text (Python string indices), ``start`` inclusive, ``end`` exclusive.  A span must lie
inside the text, must not be empty, and must not cut a character that displays as one (a combining
mark, a variation selector or a zero-width joiner may not start or end it).  Spans overlap only when
the question says ``allow_overlap``.  Stored sorted by (start, end, label), repeats folded.
Agreement: span-level F1 between every two annotators of a record (exact offsets and label).
Not trained (the trainer classifies whole texts).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import json

from pydantic import BaseModel, ConfigDict, Field, field_validator

from claystream_common.questions.agreement import span_f1
from claystream_common.questions.base import Agreement, InvalidValue, QuestionType, as_list, distinct_labels, rated
from claystream_common.questions.label import _rounded

if TYPE_CHECKING:
    from claystream_common.datasets import DatasetSpec, QuestionSpec

MAX_SPANS = 500
JOINERS = {"\u200d", "\u200c"}


class SpanSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    labels: list[str]
    field: str = Field(min_length=1, description="the text field the spans point into")
    allow_overlap: bool = False

    _distinct = field_validator("labels")(classmethod(lambda cls, v: distinct_labels(v)))


def _cuts_a_character(text: str, offset: int) -> bool:
    if offset <= 0 or offset >= len(text):
        return False
    here, before = text[offset], text[offset - 1]
    return (
        unicodedata.category(here) in ("Mn", "Me", "Mc")
        or 0xFE00 <= ord(here) <= 0xFE0F
        or here in JOINERS
        or before in JOINERS
    )


def _describe(index: int, span: Mapping[str, Any]) -> str:
    return f"span {index} ({span.get('start')}–{span.get('end')} {span.get('label')!r})"


class SpanType(QuestionType):
    name = "span"
    title = "Spans in a text"
    partial = "questions/span.html"
    settings_model = SpanSettings
    needs_fields = True

    def settings_from_form(self, labels: list[str], text_field: str) -> dict[str, Any]:
        return {"labels": labels, "field": text_field}

    def check_in_dataset(self, spec: QuestionSpec, dataset: DatasetSpec) -> None:
        if dataset.field(spec.field or "") is None:
            raise ValueError(f"span question {spec.name!r} points into field {spec.field!r}, which the dataset lacks")

    def labels_for(self, spec: QuestionSpec) -> list[str]:
        return list(spec.labels)

    def text_of(self, spec: QuestionSpec, fields: Mapping[str, Any] | None) -> str:
        text = (fields or {}).get(spec.field or "")
        return text if isinstance(text, str) else ""

    def normalise(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any] | None = None) -> Any:
        if not isinstance(value, list):
            raise InvalidValue("must be a list of spans {start, end, label}")
        if len(value) > MAX_SPANS:
            raise InvalidValue(f"at most {MAX_SPANS} spans")
        text = self.text_of(spec, fields)
        spans: set[tuple[int, int, str]] = set()
        for index, span in enumerate(value):
            if not isinstance(span, Mapping) or set(span) - {"start", "end", "label", "text"}:
                raise InvalidValue(f"span {index}: must be an object with start, end and label")
            start, end, label = span.get("start"), span.get("end"), span.get("label")
            where = _describe(index, span)
            if any(isinstance(v, bool) or not isinstance(v, int) for v in (start, end)):
                raise InvalidValue(f"{where}: start and end must be integers")
            if label not in spec.labels:
                raise InvalidValue(f"{where}: unknown label; allowed {spec.labels}")
            if not 0 <= start < end <= len(text):
                raise InvalidValue(f"{where}: outside the text of field {spec.field!r} (0–{len(text)}, start < end)")
            if _cuts_a_character(text, start) or _cuts_a_character(text, end):
                raise InvalidValue(f"{where}: not on a character boundary of field {spec.field!r}")
            spans.add((start, end, str(label)))
        ordered = sorted(spans)
        if not spec.allow_overlap:
            for (a, b) in zip(ordered, ordered[1:]):
                if b[0] < a[1]:
                    raise InvalidValue(
                        f"span {b[0]}–{b[1]} {b[2]!r} overlaps span {a[0]}–{a[1]} {a[2]!r}; this question allows no overlap"
                    )
        return [{"start": s, "end": e, "label": label} for s, e, label in ordered]

    def value_from_form(self, spec: QuestionSpec, form: Any) -> Any:
        """The page keeps the spans as JSON in one hidden field."""
        raw = form.get(f"q.{spec.name}")
        if raw is None or not str(raw).strip():
            return None
        try:
            return json.loads(str(raw))
        except (ValueError, RecursionError):  # RecursionError: brackets nested a thousand deep
            raise InvalidValue("spans must be a JSON list") from None

    def counted_items(self, spec: QuestionSpec, value: Any) -> list[str]:
        return [str(span.get("label")) for span in as_list(value) if isinstance(span, Mapping)]

    def export_value(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any]) -> Any:
        text = self.text_of(spec, fields)
        return [{**span, "text": text[span["start"]:span["end"]]} for span in as_list(value) if isinstance(span, Mapping)]

    def cell(self, spec: QuestionSpec, value: Any) -> str:
        return ";".join(f"{s.get('start')}-{s.get('end')}:{s.get('label')}" for s in as_list(value) if isinstance(s, Mapping))

    def agreement(self, spec: QuestionSpec, units: Mapping[str, Mapping[str, Any]]) -> Agreement:
        """Span-level F1 between annotators: a span agrees when another annotator marked the same
        start, end and label (pooled over every pair of annotators of every record)."""
        votes = rated(units)
        sets = (
            [{(s["start"], s["end"], s["label"]) for s in as_list(answer) if isinstance(s, Mapping)} for answer in answers.values()]
            for answers in votes.values()
        )
        return Agreement("span F1 (exact)", _rounded(span_f1(sets)), len(votes))

    def view_context(self, spec: QuestionSpec, chosen: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
        spans = [s for s in as_list(chosen) if isinstance(s, Mapping)]
        return {"span_text": self.text_of(spec, fields), "spans_json": json.dumps(spans), "field": spec.field,
                "allow_overlap": spec.allow_overlap}
