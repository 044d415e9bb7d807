"""Agreement measures the question types use (pure Python: the contract library needs no numpy).

- Krippendorff's alpha (nominal, ordinal, interval) from the coincidence matrix (Krippendorff 2011,
  "Computing Krippendorff's Alpha-Reliability"), for any number of annotators and missing answers.
- Kendall's W (coefficient of concordance) of complete rankings without ties, per record, averaged.
- Span-level F1 between every pair of annotators of a record (exact start, end and label), pooled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any, Literal

Level = Literal["nominal", "ordinal", "interval"]


def krippendorff_alpha(units: Iterable[Sequence[Hashable]], level: Level) -> float | None:
    """Alpha over units, each the values its annotators gave (units with fewer than two are skipped).
    Ordinal and interval values must be sortable numbers.  1.0 when everyone always gave one value."""
    coincidences: Counter[tuple[Hashable, Hashable]] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidences[(a, b)] += 1.0 / (m - 1)
    if not coincidences:
        return None
    totals: Counter[Hashable] = Counter()
    for (a, _), weight in coincidences.items():
        totals[a] += weight
    n = sum(totals.values())
    categories = sorted(totals, key=lambda c: (c if level != "nominal" else str(c)))
    if len(categories) < 2:
        return 1.0
    delta = _distance(level, categories, totals)
    observed = sum(weight * delta(a, b) for (a, b), weight in coincidences.items())
    expected = sum(totals[a] * totals[b] * delta(a, b) for a in categories for b in categories) / (n - 1)
    if expected == 0:
        return 1.0
    return 1.0 - observed / expected


def _distance(level: Level, categories: list[Hashable], totals: Mapping[Hashable, float]) -> Callable[[Any, Any], float]:
    if level == "nominal":
        return lambda a, b: 0.0 if a == b else 1.0
    if level == "interval":
        return lambda a, b: float(a - b) ** 2  # type: ignore[operator]
    position = {c: i for i, c in enumerate(categories)}
    cumulative = [0.0]
    for c in categories:
        cumulative.append(cumulative[-1] + totals[c])

    def ordinal(a: Any, b: Any) -> float:
        low, high = sorted((position[a], position[b]))
        between = cumulative[high + 1] - cumulative[low]
        return (between - (totals[categories[low]] + totals[categories[high]]) / 2.0) ** 2

    return ordinal


def kendalls_w(rankings: Sequence[Sequence[Hashable]]) -> float | None:
    """Kendall's W of ``rankings`` (each a complete order of the same options, first = rank 1)."""
    m = len(rankings)
    if m < 2:
        return None
    options = list(rankings[0])
    n = len(options)
    if n < 2 or any(sorted(map(str, r)) != sorted(map(str, options)) for r in rankings):
        return None
    sums = {option: 0 for option in options}
    for ranking in rankings:
        for rank, option in enumerate(ranking, start=1):
            sums[option] += rank
    mean = m * (n + 1) / 2.0
    s = sum((total - mean) ** 2 for total in sums.values())
    return 12.0 * s / (m * m * (n**3 - n))


def span_f1(annotations: Iterable[Sequence[set[tuple[int, int, str]]]]) -> float | None:
    """Pooled pairwise F1: for every record and every pair of its annotators' span sets A, B,
    2·|A∩B| / (|A| + |B|) summed over all pairs (records where both marked nothing agree silently)."""
    matched = 0
    total = 0
    for annotators in annotations:
        for a, b in combinations(annotators, 2):
            matched += 2 * len(set(a) & set(b))
            total += len(a) + len(b)
    if total == 0:
        return None
    return matched / total
