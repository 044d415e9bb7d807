"""Ranking: order all of the question's options, best first, without ties.

A value is the list of every option exactly once (``["b", "a", "c"]``: b ranked first).

Agreement: **Kendall's W** (coefficient of concordance), per record, averaged over records.  Each
annotator gives a complete ranking of the same options without ties, which is exactly the data W is
defined for; it is 1 when all orders are identical and 0 when the rank sums carry no consensus.
Krippendorff's alpha (ordinal) was not chosen: it would treat every (record, option) pair as an
independent unit, while within one ranking the ranks are tied together (each rank is used exactly
once), so its expected disagreement is not the chance model of a ranking.  Not trained.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from claystream_common.questions.agreement import kendalls_w
from claystream_common.questions.base import Agreement, InvalidValue, QuestionType, as_list, rated
from claystream_common.questions.label import LabelSettings, _rounded

if TYPE_CHECKING:
    from claystream_common.datasets import QuestionSpec


class RankingType(QuestionType):
    name = "ranking"
    title = "Ranking"
    partial = "questions/ranking.html"
    settings_model = LabelSettings  # the options to order are the question's labels
    labels_may_grow = False  # an answer ranks every option: one added later would leave every stored answer short

    def labels_for(self, spec: QuestionSpec) -> list[str]:
        return list(spec.labels)

    def normalise(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any] | None = None) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidValue("must be a list of the options, best first")
        options, given = set(spec.labels), Counter(value)  # linear, whatever the sizes
        unknown = [v for v in value if v not in options]
        if unknown:
            raise InvalidValue(f"unknown options {unknown}; allowed {spec.labels}")
        repeated = sorted(v for v, times in given.items() if times > 1)
        if repeated:
            raise InvalidValue(f"ties are not allowed: {repeated} ranked more than once")
        missing = [v for v in spec.labels if v not in given]
        if missing:
            raise InvalidValue(f"rank every option; missing {missing}")
        return list(value)

    def value_from_form(self, spec: QuestionSpec, form: Any) -> Any:
        key = f"q.{spec.name}"
        items = form.getlist(key) if hasattr(form, "getlist") else as_list(form.get(key))
        order = [str(v) for v in items if str(v)]
        return order or None

    def counted_items(self, spec: QuestionSpec, value: Any) -> list[str]:
        return [f"1st: {value[0]}"] if value else []

    def cell(self, spec: QuestionSpec, value: Any) -> str:
        return ">".join(str(v) for v in as_list(value))

    def agreement(self, spec: QuestionSpec, units: Mapping[str, Mapping[str, Any]]) -> Agreement:
        """Kendall's W per record (see the module docstring for why), averaged over records."""
        votes = rated(units)
        per_record = [w for w in (kendalls_w([list(v) for v in answers.values()]) for answers in votes.values()) if w is not None]
        value = sum(per_record) / len(per_record) if per_record else None
        return Agreement("Kendall's W", _rounded(value), len(per_record))

    def view_context(self, spec: QuestionSpec, chosen: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
        order = [v for v in as_list(chosen) if v in spec.labels]
        order += [v for v in spec.labels if v not in order]
        return {"order": order, "ranked": bool(chosen)}
