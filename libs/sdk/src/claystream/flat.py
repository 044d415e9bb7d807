"""One flat row per record with columns fixed by the dataset's settings (pandas / datasets / files).

Columns: ``id``, ``external_id``, ``status``, each field, ``metadata.<name>``, and per question
``<q>.responses`` (submitted values), ``<q>.responses.users``, ``<q>.suggestion``,
``<q>.suggestion.score``, ``<q>.suggestion.agent``; ``vectors.<name>`` for vector fields.
"""

from __future__ import annotations

from typing import Any

from claystream.settings import Settings


def dataset_features(settings: Settings, *, arrow: bool = False) -> Any:
    """Column names (``arrow=False``) or ``datasets.Features`` in the same order."""
    columns: dict[str, Any] = {}
    if arrow:
        import datasets
        from datasets import Features, Sequence, Value

        string, number, integer = Value("string"), Value("float64"), Value("int64")
    else:
        Features = dict  # noqa: N806
        Sequence = lambda inner: None  # noqa: E731, N806
        string = number = integer = None
    for name in ("id", "external_id", "status"):
        columns[name] = string
    for field in settings.fields:
        columns[field.name] = string
    for prop in settings.metadata:
        columns[f"metadata.{prop.name}"] = {"terms": string, "integer": integer, "float": number}[prop.kind]
    for question in settings.questions:
        value = question.value_feature(datasets) if arrow else None
        columns[f"{question.name}.responses"] = [value] if arrow else None
        columns[f"{question.name}.responses.users"] = Sequence(string) if arrow else None
        columns[f"{question.name}.suggestion"] = value
        columns[f"{question.name}.suggestion.score"] = number
        columns[f"{question.name}.suggestion.agent"] = string
    for vector in settings.vectors:
        columns[f"vectors.{vector.name}"] = Sequence(Value("float32")) if arrow else None
    return Features(columns) if arrow else list(columns)


def flat_row(settings: Settings, item: dict[str, Any]) -> dict[str, Any]:
    fields = item.get("fields") or {}
    metadata = item.get("metadata") or {}
    row: dict[str, Any] = {"id": item.get("id"), "external_id": item.get("external_id"), "status": item.get("status")}
    for field in settings.fields:
        row[field.name] = fields.get(field.name)
    for prop in settings.metadata:
        row[f"metadata.{prop.name}"] = metadata.get(prop.name)  # stored as its property's type: kept as it is
    suggestions = {s.get("question"): s for s in item.get("suggestions") or []}
    submitted = [r for r in item.get("responses") or [] if r.get("status") == "submitted"]
    for question in settings.questions:
        answered = [r for r in submitted if question.name in (r.get("values") or {})]
        row[f"{question.name}.responses"] = [r["values"][question.name] for r in answered]
        row[f"{question.name}.responses.users"] = [str(r.get("user_id")) for r in answered]
        suggestion = suggestions.get(question.name) or {}
        row[f"{question.name}.suggestion"] = suggestion.get("value")
        row[f"{question.name}.suggestion.score"] = suggestion.get("score")
        row[f"{question.name}.suggestion.agent"] = suggestion.get("agent")
    vectors = item.get("vectors") or {}
    for vector in settings.vectors:
        row[f"vectors.{vector.name}"] = vectors.get(vector.name)
    return row


def records_to_dataset(settings: Settings, items: list[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` of :func:`flat_row` rows with the settings' columns (also when empty)."""
    from datasets import Dataset

    features = dataset_features(settings, arrow=True)
    rows = [flat_row(settings, item) for item in items]
    return Dataset.from_list(rows, features=features) if rows else Dataset.from_dict({c: [] for c in features}, features=features)
