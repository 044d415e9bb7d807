"""Dataset metrics: per-annotator counts, label distribution and agreement per question (the
question type's measure, e.g. Krippendorff's alpha, on records with at least two submitted responses)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from claystream_common.datasets import DatasetSpec, QuestionSpec
from claystream_common.questions import question_type

from claystream_annotate.services.ports import ResponseStore, UserStore
from claystream_annotate.services.principals import Principal, Role

def alpha_for(question: QuestionSpec, units: dict[str, dict[str, Any]]) -> tuple[float | None, int]:
    """The question type's agreement over units (record → {user: value}) with ≥ 2 values."""
    agreement = question_type(question).agreement(question, units)
    return agreement.value, agreement.records


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
                distribution[question.name].update(question_type(question).counted_items(question, value))
                units[question.name][response.record_id][response.user_id] = value
    names = {u.id: u.username for u in await users.list(None)}
    agreement = {}
    for question in spec.questions:
        measured = question_type(question).agreement(question, units[question.name])
        agreement[question.name] = {"alpha": measured.value, "records": measured.records, "level": measured.measure}
    return {
        "annotators": [
            {"user_id": user, "username": names.get(user, user), **{s: counts.get(s, 0) for s in ("submitted", "draft", "discarded")}}
            for user, counts in sorted(per_user.items(), key=lambda item: -item[1]["submitted"])
        ],
        "agreement": agreement,
        "distribution": {name: dict(counter.most_common()) for name, counter in distribution.items()},
    }
