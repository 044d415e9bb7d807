"""The bulk view's filter form ↔ the core's :class:`RecordQuery` (pure, unit-tested)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from claystream_common.datasets import DatasetSpec

from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.records import RESPONSE_STATUSES, SORTS, RecordQuery

PAGE_SIZE = 25
FILTER_KEYS = ("q", "response_status", "status", "suggested", "score_min", "score_max", "sort", "similar_to", "vector_field")


def _number(params: Mapping[str, Any], key: str) -> float | None:
    raw = str(params.get(key) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise Invalid(key, "must be a number") from None


def _text(params: Mapping[str, Any], key: str) -> str | None:
    value = str(params.get(key) or "").strip()
    return value or None


def label_question(spec: DatasetSpec) -> Any:
    return next((q for q in spec.questions if q.type in ("label", "multi_label")), None)


def record_query(spec: DatasetSpec, params: Mapping[str, Any], *, limit: int = PAGE_SIZE) -> RecordQuery:
    """Form/query parameters → RecordQuery: ``q``, ``response_status``, ``status``, ``suggested``,
    ``score_min``/``score_max``, ``sort``, ``meta.<name>`` (terms) and ``meta.<name>.min``/``.max``."""
    response_status = _text(params, "response_status")
    if response_status is not None and response_status not in RESPONSE_STATUSES:
        raise Invalid("response_status", f"one of {list(RESPONSE_STATUSES)}")
    sort = _text(params, "sort") or "arrival"
    if sort not in SORTS:
        raise Invalid("sort", f"one of {list(SORTS)}")
    metadata: dict[str, list[str]] = {}
    ranges: dict[str, tuple[float | None, float | None]] = {}
    for prop in spec.metadata_properties:
        if prop.type == "terms":
            value = _text(params, f"meta.{prop.name}")
            if value is not None:
                metadata[prop.name] = [value]
        else:
            low, high = _number(params, f"meta.{prop.name}.min"), _number(params, f"meta.{prop.name}.max")
            if low is not None or high is not None:
                ranges[prop.name] = (low, high)
    question = label_question(spec)
    return RecordQuery(
        q=_text(params, "q"),
        response_status=response_status,
        status=_text(params, "status"),
        metadata=metadata,
        metadata_ranges=ranges,
        suggested=_text(params, "suggested"),
        question=question.name if question is not None else None,
        score_min=_number(params, "score_min"),
        score_max=_number(params, "score_max"),
        sort=sort,
        limit=limit,
        after=_text(params, "after"),
        count=True,
    )


def filter_values(spec: DatasetSpec, params: Mapping[str, Any]) -> dict[str, str]:
    """The filter fields as given (to re-fill the form and build links)."""
    keys = list(FILTER_KEYS)
    for prop in spec.metadata_properties:
        keys.extend([f"meta.{prop.name}"] if prop.type == "terms" else [f"meta.{prop.name}.min", f"meta.{prop.name}.max"])
    return {key: str(params.get(key) or "").strip() for key in keys if str(params.get(key) or "").strip()}


def query_string(values: Mapping[str, str], **extra: str) -> str:
    merged = {**values, **{k: v for k, v in extra.items() if v}}
    return urlencode(merged)
