"""Cheap text statistics: tokens, length, vocabulary and out-of-vocabulary share."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_TOKEN = re.compile(r"[a-z0-9']+")
_MARKUP = re.compile(r"<[^>]{0,40}>")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (markup such as ``<br />`` dropped)."""
    return _TOKEN.findall(_MARKUP.sub(" ", text.lower()))


def build_vocabulary(token_lists: Iterable[list[str]], *, max_size: int = 50_000) -> frozenset[str]:
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(set(tokens))
    return frozenset(word for word, _ in counts.most_common(max_size))


def oov_share(tokens: list[str], vocabulary: frozenset[str]) -> float:
    """Share of a text's distinct tokens that the reference vocabulary lacks (0 for empty texts)."""
    distinct = set(tokens)
    if not distinct:
        return 0.0
    return len(distinct.difference(vocabulary)) / len(distinct)
