"""Validation of production predictions and feedback (hot path: plain checks, no pydantic per item)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from claystream_ingest.services.validation import is_number, item_error

PREDICTION_KEYS = frozenset(
    {"request_id", "model", "model_version", "text", "predicted_label", "scores", "metadata", "predicted_at", "dataset"}
)
FEEDBACK_KEYS = frozenset({"request_id", "model", "true_label", "signal", "received_at", "dataset"})
MAX_ID = 256


def _required_str(
    i: int, item: dict[str, Any], key: str, errors: list[dict[str, Any]], max_len: int | None = None
) -> None:
    value = item.get(key)
    if value is None:
        errors.append(item_error(i, key, "required property is missing"))
    elif not isinstance(value, str) or not value:
        errors.append(item_error(i, key, "must be a non-empty string"))
    elif max_len is not None and len(value) > max_len:
        errors.append(item_error(i, key, f"must be at most {max_len} characters"))


def _model_names(i: int, item: dict[str, Any], errors: list[dict[str, Any]]) -> None:
    """The monitor keys a model version as ``workspace|model|version`` (``-``: no version): names that would make
    two models one key are refused (model ``p|q`` version ``v1`` and model ``p`` version ``q|v1`` were merged)."""
    for key in ("model", "model_version"):
        value = item.get(key)
        if isinstance(value, str) and "|" in value:
            errors.append(item_error(i, key, "may not contain '|'"))
        elif isinstance(value, str) and any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
            # NUL, newlines, right-to-left overrides: a name shown on the dashboard must read as what it is
            errors.append(item_error(i, key, "may not contain control or formatting characters"))
    if item.get("model_version") == "-":
        errors.append(item_error(i, "model_version", "'-' stands for no version: leave model_version out instead"))


def _optional_str(i: int, item: dict[str, Any], key: str, errors: list[dict[str, Any]]) -> None:
    value = item.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        errors.append(item_error(i, key, "must be a non-empty string"))


def _timestamp(i: int, item: dict[str, Any], key: str, errors: list[dict[str, Any]], now: str) -> str:
    value = item.get(key)
    if value is None:
        return now
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()
    errors.append(item_error(i, key, "must be an ISO-8601 timestamp, e.g. 2026-01-31T12:00:00Z"))
    return now


def _unknown(i: int, item: dict[str, Any], allowed: frozenset[str], errors: list[dict[str, Any]]) -> None:
    for key in item.keys() - allowed:
        errors.append(item_error(i, key, f"unknown property (allowed: {', '.join(sorted(allowed))})"))


Checked = tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]


def validate_predictions(items: list[Any], *, now: str) -> Checked:
    good: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(item_error(i, "", "prediction must be a JSON object"))
            continue
        before = len(errors)
        if len(item) > len(PREDICTION_KEYS) or not item.keys() <= PREDICTION_KEYS:
            _unknown(i, item, PREDICTION_KEYS, errors)
        _required_str(i, item, "request_id", errors, MAX_ID)
        _required_str(i, item, "model", errors, MAX_ID)
        _required_str(i, item, "predicted_label", errors)
        text = item.get("text")
        if not isinstance(text, str):
            errors.append(item_error(i, "text", "required property is missing" if text is None else "must be a string"))
        _optional_str(i, item, "model_version", errors)
        _model_names(i, item, errors)
        _optional_str(i, item, "dataset", errors)
        scores = item.get("scores")
        if scores is not None and (not isinstance(scores, dict) or not all(is_number(v) for v in scores.values())):
            errors.append(item_error(i, "scores", "must be an object of label to number"))
        metadata = item.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            errors.append(item_error(i, "metadata", "must be an object"))
        predicted_at = _timestamp(i, item, "predicted_at", errors, now)
        if len(errors) == before:
            good.append((i, {
                "request_id": item["request_id"], "model": item["model"], "model_version": item.get("model_version"),
                "text": text, "predicted_label": item["predicted_label"], "scores": scores or {},
                "metadata": metadata or {}, "predicted_at": predicted_at, "dataset": item.get("dataset"),
            }))
    return good, errors


def validate_feedback(items: list[Any], *, now: str) -> Checked:
    good: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(item_error(i, "", "feedback must be a JSON object"))
            continue
        before = len(errors)
        _unknown(i, item, FEEDBACK_KEYS, errors)
        _required_str(i, item, "request_id", errors, MAX_ID)
        for key in ("model", "true_label", "signal", "dataset"):
            _optional_str(i, item, key, errors)
        _model_names(i, item, errors)
        if item.get("true_label") is None and item.get("signal") is None:
            errors.append(item_error(i, "true_label", "give true_label or signal (or both)"))
        received_at = _timestamp(i, item, "received_at", errors, now)
        if len(errors) == before:
            good.append((i, {
                "request_id": item["request_id"], "model": item.get("model"), "true_label": item.get("true_label"),
                "signal": item.get("signal"), "received_at": received_at, "dataset": item.get("dataset"),
            }))
    return good, errors
