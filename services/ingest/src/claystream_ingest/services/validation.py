"""Record validation against a dataset's schema, compiled once per dataset version.

``RecordValidator(spec).validate(items)`` returns the normalised good records and one
error per problem: ``{"index": i, "field": "fields.text", "reason": "..."}``.  Plain
dict / type checks (no pydantic per record): this runs for every record ingested.
"""

from __future__ import annotations

import math
from typing import Any

from claystream_common.datasets import DatasetSpec, QuestionSpec
from claystream_common.metadata import InvalidMetadata, metadata_value, undeclared_problem
from claystream_common.questions import InvalidValue, question_type

RECORD_KEYS = frozenset({"external_id", "fields", "metadata", "suggestions", "vectors", "origin"})
SUGGESTION_KEYS = frozenset({"question", "value", "score", "agent", "model_version"})
MAX_EXTERNAL_ID = 256
MAX_ORIGIN = 64


def item_error(index: int | None, field: str, reason: str) -> dict[str, Any]:
    return {"index": index, "field": field, "reason": reason}


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class RecordValidator:
    """Checks records against one :class:`DatasetSpec`."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self._fields = frozenset(f.name for f in spec.fields)
        self._required = tuple(f.name for f in spec.fields if f.required)
        self._metadata = {m.name: (m.type, frozenset(m.values) if m.values is not None else None)
                          for m in spec.metadata_properties}
        self._questions = {q.name: q for q in spec.questions}
        self._vectors = {v.name: v.dimensions for v in spec.vectors}

    def validate(self, items: list[Any]) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
        """(index, normalised record) for the good ones, and every error found."""
        good: list[tuple[int, dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            before = len(errors)
            record = self._record(index, item, errors)
            if len(errors) == before and record is not None:
                good.append((index, record))
        return good, errors

    # ------------------------------------------------------------------ one record
    def _record(self, i: int, item: Any, errors: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            errors.append(item_error(i, "", "record must be a JSON object"))
            return None
        if not RECORD_KEYS.issuperset(item):
            for key in sorted(item.keys() - RECORD_KEYS):
                errors.append(item_error(i, key, f"unknown property (allowed: {', '.join(sorted(RECORD_KEYS))})"))
        external_id = item.get("external_id")
        if external_id is not None and not (type(external_id) is str and 0 < len(external_id) <= MAX_EXTERNAL_ID):
            external_id = self._external_id(i, external_id, errors)
        return {
            "external_id": external_id,
            "fields": self._fields_of(i, item.get("fields"), errors),
            "metadata": self._metadata_of(i, item["metadata"], errors) if "metadata" in item else {},
            "suggestions": self._suggestions_of(i, item["suggestions"], item.get("fields"), errors) if "suggestions" in item else [],
            "vectors": self._vectors_of(i, item["vectors"], errors) if "vectors" in item else {},
            "origin": self._origin(i, item["origin"], errors) if "origin" in item else None,
        }

    def _origin(self, i: int, value: Any, errors: list[dict[str, Any]]) -> str | None:
        if value is not None and not (isinstance(value, str) and 0 < len(value) <= MAX_ORIGIN):
            errors.append(item_error(i, "origin", f"must be a string of 1 to {MAX_ORIGIN} characters, e.g. 'monitor'"))
            return None
        return value

    def _external_id(self, i: int, value: Any, errors: list[dict[str, Any]]) -> str | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            errors.append(item_error(i, "external_id", "must be a string or an integer"))
            return None
        if not value or len(value) > MAX_EXTERNAL_ID:
            errors.append(item_error(i, "external_id", f"must be 1 to {MAX_EXTERNAL_ID} characters"))
        return value

    def _fields_of(self, i: int, value: Any, errors: list[dict[str, Any]]) -> dict[str, Any]:
        if not isinstance(value, dict):
            reason = "required property is missing" if value is None else "must be an object of field name to text"
            errors.append(item_error(i, "fields", reason))
            return {}
        clean = True
        for name, text in value.items():
            if name not in self._fields:
                known = ", ".join(sorted(self._fields))
                errors.append(item_error(i, f"fields.{name}", f"unknown field (dataset fields: {known})"))
            elif type(text) is not str:
                clean = False
                if text is not None:
                    errors.append(item_error(i, f"fields.{name}", "must be a string"))
        for name in self._required:
            text = value.get(name)
            if text is None:
                errors.append(item_error(i, f"fields.{name}", "required field is missing"))
            elif type(text) is str and not text.strip():
                errors.append(item_error(i, f"fields.{name}", "required field is empty"))
        return value if clean else {name: text for name, text in value.items() if text is not None}

    def _metadata_of(self, i: int, value: Any, errors: list[dict[str, Any]]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            errors.append(item_error(i, "metadata", "must be an object of property name to value"))
            return {}
        stored = dict(value)
        for name, item in value.items():
            spec = self._metadata.get(name)
            if spec is None:  # undeclared metadata is kept (not filterable), if it is a plain value
                problem = undeclared_problem(name, item)
                if problem is not None:
                    known = ", ".join(sorted(self._metadata)) or "none declared"
                    errors.append(item_error(i, f"metadata.{name}", problem.format(declared=known)))
                continue
            kind, allowed = spec
            try:
                stored[name] = metadata_value(kind, item, allowed)
            except InvalidMetadata as error:
                errors.append(item_error(i, f"metadata.{name}", error.reason))
        return {name: item for name, item in stored.items() if item is not None}

    def _suggestions_of(self, i: int, value: Any, fields: Any, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            errors.append(item_error(i, "suggestions", "must be a list of suggestion objects"))
            return []
        seen: set[str] = set()
        out = []
        for j, suggestion in enumerate(value):
            where = f"suggestions[{j}]"
            if not isinstance(suggestion, dict):
                errors.append(item_error(i, where, "must be an object with question and value"))
                continue
            for key in suggestion.keys() - SUGGESTION_KEYS:
                errors.append(item_error(i, f"{where}.{key}", "unknown property"))
            question_name = suggestion.get("question")
            question = self._questions.get(question_name) if isinstance(question_name, str) else None
            if question is None:
                known = ", ".join(sorted(self._questions))
                reason = f"unknown question {question_name!r} (dataset questions: {known})"
                errors.append(item_error(i, f"{where}.question", reason))
                continue
            if question_name in seen:
                reason = f"more than one suggestion for question '{question_name}'"
                errors.append(item_error(i, f"{where}.question", reason))
            seen.add(question_name)
            cleaned, reason = _suggested_value(question, suggestion.get("value"), fields)
            if reason:
                errors.append(item_error(i, f"{where}.value", f"question '{question_name}': {reason}"))
            score = suggestion.get("score")
            if score is not None and (not is_number(score) or not 0.0 <= score <= 1.0):
                errors.append(item_error(i, f"{where}.score", "must be a number between 0 and 1"))
            for key in ("agent", "model_version"):
                if suggestion.get(key) is not None and not isinstance(suggestion[key], str):
                    errors.append(item_error(i, f"{where}.{key}", "must be a string"))
            out.append({"question": question_name, "value": cleaned, "score": score,
                        "agent": suggestion.get("agent"), "model_version": suggestion.get("model_version")})
        return out

    def _vectors_of(self, i: int, value: Any, errors: list[dict[str, Any]]) -> dict[str, list[float]]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            errors.append(item_error(i, "vectors", "must be an object of vector name to list of numbers"))
            return {}
        for name, vector in value.items():
            dimensions = self._vectors.get(name)
            if dimensions is None:
                known = ", ".join(sorted(self._vectors)) or "none declared"
                errors.append(item_error(i, f"vectors.{name}", f"unknown vector field (dataset vector fields: {known})"))
            elif not isinstance(vector, list) or len(vector) != dimensions:
                got = f"{len(vector)} numbers" if isinstance(vector, list) else type(vector).__name__
                errors.append(item_error(i, f"vectors.{name}", f"must be a list of {dimensions} numbers (got {got})"))
            elif not all(is_number(x) for x in vector):
                errors.append(item_error(i, f"vectors.{name}", "must contain only finite numbers"))
        return value


def _suggested_value(question: QuestionSpec, value: Any, fields: Any) -> tuple[Any, str | None]:
    """The normal form of a suggested value (the same one annotate stores for answers), or why not."""
    if value is None:
        return None, "required property is missing"
    kind = question_type(question)
    try:
        cleaned = kind.normalise(question, value, fields if isinstance(fields, dict) else {})
    except InvalidValue as error:
        return None, error.reason
    if kind.is_empty(question, cleaned):
        return None, "must not be empty"
    return cleaned, None


class ValidatorCache:
    """Compiled validators by dataset version (the spec's JSON), bounded."""

    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._by_spec: dict[str, RecordValidator] = {}

    def for_spec(self, spec: DatasetSpec) -> RecordValidator:
        key = spec.model_dump_json()
        validator = self._by_spec.get(key)
        if validator is None:
            if len(self._by_spec) >= self._max:
                self._by_spec.pop(next(iter(self._by_spec)))
            validator = self._by_spec[key] = RecordValidator(spec)
        return validator
