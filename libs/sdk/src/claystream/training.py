"""``prepare_for_training``: a loaded dataset → ``text`` / ``label`` rows for a classifier."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal


def _majority(values: list[Any]) -> Any:
    if not values:
        return None
    hashable = [tuple(v) if isinstance(v, list) else v for v in values]
    counts = Counter(hashable)
    best = max(counts.values())
    winner = next(v for v in hashable if counts[v] == best)  # ties: the first answer given
    return list(winner) if isinstance(winner, tuple) else winner


def prepare_for_training(
    dataset: Any,
    *,
    question: str = "label",
    text_field: str = "text",
    strategy: Literal["majority", "first", "suggestion"] = "majority",
    use_suggestions: bool = False,
) -> Any:
    """Rows with ``text`` and ``label``: the majority (or first) submitted answer per record.

    ``strategy="suggestion"`` (or ``use_suggestions=True``) falls back to the model's suggestion where
    no one answered.  Unlabelled rows are dropped.
    """
    from datasets import Dataset

    responses = f"{question}.responses"
    suggestion = f"{question}.suggestion"
    missing = [c for c in (text_field, responses) if c not in dataset.column_names]
    if missing:
        raise ValueError(f"column {missing[0]!r} not in the dataset (columns: {', '.join(dataset.column_names)})")
    texts, labels = [], []
    for row in dataset:
        answers = row.get(responses) or []
        label = answers[0] if (strategy == "first" and answers) else _majority(answers)
        if label is None and (use_suggestions or strategy == "suggestion"):
            label = row.get(suggestion)
        if label is None:
            continue
        texts.append(row[text_field])
        labels.append(label)
    return Dataset.from_dict({"text": texts, "label": labels})
