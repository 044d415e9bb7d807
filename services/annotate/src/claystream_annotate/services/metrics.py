"""Dataset metrics: per-annotator counts, label distribution and Krippendorff's alpha per question
(on records with at least two submitted responses)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

import krippendorff
import numpy as np
from claystream_common.datasets import DatasetSpec, QuestionSpec

from claystream_annotate.services.ports import ResponseStore, UserStore
from claystream_annotate.services.principals import Principal, Role

LEVELS = {"label": "nominal", "multi_label": "nominal", "rating": "ordinal"}


def _code(question: QuestionSpec, value: Any) -> Any:
    if question.type == "multi_label":
        return "|".join(sorted(value)) if isinstance(value, list) else None
    return value


def alpha_for(question: QuestionSpec, units: dict[str, dict[str, Any]]) -> tuple[float | None, int]:
    """Krippendorff's alpha for one question over units (record → {user: value}) with ≥ 2 values."""
    level = LEVELS.get(question.type)
    rated = {record: votes for record, votes in units.items() if len(votes) >= 2}
    if level is None or not rated:
        return None, len(rated)
    coders = sorted({user for votes in rated.values() for user in votes})
    categories = sorted({str(v) for votes in rated.values() for v in votes.values()})
    if question.type == "rating":
        encode = float
    else:
        index = {c: i for i, c in enumerate(categories)}
        encode = lambda v: float(index[str(v)])
    matrix = np.full((len(coders), len(rated)), np.nan)
    coder_row = {c: i for i, c in enumerate(coders)}
    for column, votes in enumerate(rated.values()):
        for user, value in votes.items():
            matrix[coder_row[user], column] = encode(value)
    if len({v for votes in rated.values() for v in votes.values()}) < 2:
        return 1.0, len(rated)  # everyone always agreed on one value: perfect agreement
    value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
    return (None if math.isnan(value) else round(value, 4)), len(rated)


async def dataset_metrics(*, actor: Principal, spec: DatasetSpec, responses: ResponseStore, users: UserStore) -> dict[str, Any]:
    actor.require(spec.workspace, Role.ADMIN)
    per_user: dict[str, Counter[str]] = defaultdict(Counter)
    units: dict[str, dict[str, dict[str, Any]]] = {q.name: defaultdict(dict) for q in spec.questions}
    distribution: dict[str, Counter[str]] = {q.name: Counter() for q in spec.questions}
    async for batch in responses.scan_dataset(spec.id):
        for response in batch:
            per_user[response.user_id][response.status] += 1
            if response.status != "submitted":
                continue
            for question in spec.questions:
                value = response.values.get(question.name)
                if value is None:
                    continue
                for item in value if isinstance(value, list) else [value]:
                    if question.type != "text":
                        distribution[question.name][str(item)] += 1
                code = _code(question, value)
                if code is not None:
                    units[question.name][response.record_id][response.user_id] = code
    names = {u.id: u.username for u in await users.list(None)}
    agreement = {}
    for question in spec.questions:
        alpha, n_records = alpha_for(question, units[question.name])
        agreement[question.name] = {"alpha": alpha, "records": n_records, "level": LEVELS.get(question.type)}
    return {
        "annotators": [
            {"user_id": user, "username": names.get(user, user), **{s: counts.get(s, 0) for s in ("submitted", "draft", "discarded")}}
            for user, counts in sorted(per_user.items(), key=lambda item: -item[1]["submitted"])
        ],
        "agreement": agreement,
        "distribution": {name: dict(counter.most_common()) for name, counter in distribution.items()},
    }
