"""The way back: a stratified, deduplicated, rate-limited sample of affected inputs to annotators."""

from __future__ import annotations

import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from claystream_monitor.drift.reference import Observation
from claystream_monitor.metrics import MODEL_LABEL, SAMPLES_SENT
from claystream_monitor.services.ports import DatasetDirectory, ModelKey, MonitorStore, RateLimiter, SampleSink

log = logging.getLogger(__name__)
AGENT = "claystream-monitor"


_ASCII_SPACES = bytes(0x20 if chr(c).isspace() else c for c in range(256))  # what str.split() splits on, as spaces


def text_digest(text: str) -> str:
    """The first 20 hex digits of the SHA-1 of the lower-cased text with its whitespace collapsed
    (``" ".join(text.lower().split())``).  ASCII texts, nearly all of them, take a path that gives the same
    bytes without building a list of words: one byte table turns every whitespace byte into a space, then
    runs of spaces are folded (half the cost, paid once per logged prediction)."""
    lowered = text.lower()
    if not lowered.isascii():
        return hashlib.sha1(" ".join(lowered.split()).encode()).hexdigest()[:20]
    spaced = lowered.encode("ascii").translate(_ASCII_SPACES)
    while b"  " in spaced:
        spaced = spaced.replace(b"  ", b" ")
    return hashlib.sha1(spaced.strip(b" ")).hexdigest()[:20]


def stratified_sample(observations: Sequence[Observation], limit: int, *, exclude: set[str] = frozenset()) -> list[Observation]:
    """Up to ``limit`` distinct texts, balanced over predicted labels, least confident first within a label."""
    by_label: dict[str, list[Observation]] = defaultdict(list)
    seen: set[str] = set(exclude)
    for observation in observations:
        digest = text_digest(observation.text)
        if digest in seen:
            continue
        seen.add(digest)
        by_label[observation.label].append(observation)
    for items in by_label.values():
        items.sort(key=lambda o: o.score if not math.isnan(o.score) else -1.0)
    picked: list[Observation] = []
    labels = sorted(by_label)
    while len(picked) < limit and any(by_label[label] for label in labels):
        for label in labels:  # round robin: every predicted label gets its share
            if by_label[label] and len(picked) < limit:
                picked.append(by_label[label].pop(0))
    return picked


@dataclass(frozen=True)
class SampleDraw:
    """One evaluation's share of a sample: the events that raised (or keep) its alert, and the checks why."""

    observations: Sequence[Observation]
    reasons: list[str]


def sample_id(key: ModelKey, observation: Observation) -> str:
    """A text is sampled once per model (its digest names the stored sample)."""
    return f"{key.workspace or '-'}|{key.model}|{text_digest(observation.text)}"


async def send_samples(
    key: ModelKey,
    draws: Sequence[SampleDraw],
    *,
    dataset: str,
    limit: int,
    per_hour: int,
    at: datetime,
    sink: SampleSink,
    limiter: RateLimiter,
    store: MonitorStore,
    directory: DatasetDirectory,
) -> int:
    """Up to ``limit`` samples for each draw, in order, none sent before; rate-limited, delivered and
    remembered together.  Returns how many records were delivered.  Each draw picks as if it were sent on
    its own: the same records whether a batch held one sampling evaluation or several."""
    if limit <= 0 or not draws:
        return 0
    pools = [{id(o): (o, sample_id(key, o)) for o in stratified_sample(draw.observations, limit * 3)} for draw in draws]
    taken = set(await store.sent_sample_ids(key, list(dict.fromkeys(i for pool in pools for _, i in pool.values()))))
    picked: list[tuple[Observation, str, list[str]]] = []
    for draw, pool in zip(draws, pools, strict=True):
        for observation in stratified_sample([o for o, i in pool.values() if i not in taken], limit):
            picked.append((observation, pool[id(observation)][1], draw.reasons))
            taken.add(picked[-1][1])
    granted = await limiter.take(f"samples:{key.workspace}:{key.model}", len(picked), limit=per_hour, period_s=3600)
    picked = picked[:granted]
    if not picked:
        return 0
    target = await directory.label_target(key.workspace, dataset)
    text_field, question = target or ("text", "label")
    records = [_record(key, o, text_field=text_field, question=question, reasons=reasons) for o, _, reasons in picked]
    outcome = "sent"
    try:
        accepted = await sink.send(workspace=key.workspace, dataset=dataset, records=records)
    except Exception as error:  # noqa: BLE001 - a side channel: the alert itself is already stored and published
        log.warning("samples for %s not delivered to %s: %r", key.id, dataset, error)
        accepted, outcome = 0, "failed"
    SAMPLES_SENT.labels(MODEL_LABEL(key.model), outcome).inc(len(records))
    await store.store_samples([
        {
            "_id": sample,
            **key.as_dict(),
            "model_key": key.id,
            "request_id": o.request_id,
            "dataset": dataset,
            "text": o.text[:2000],
            "predicted_label": o.label,
            "score": None if math.isnan(o.score) else o.score,
            "reasons": reasons,
            "status": outcome,
            "at": at,
        }
        for o, sample, reasons in picked
    ])
    return accepted


def _record(key: ModelKey, observation: Observation, *, text_field: str, question: str, reasons: list[str]) -> dict[str, Any]:
    score = None if math.isnan(observation.score) else round(observation.score, 4)
    return {
        "external_id": f"monitor-{text_digest(observation.text)}",
        "fields": {text_field: observation.text},
        "metadata": {
            "origin": "monitor",
            "model": key.model,
            "model_version": key.version,
            "predicted_label": observation.label,
            "score": score,
            "reason": ",".join(reasons),
            "request_id": observation.request_id,
        },
        "suggestions": [
            {"question": question, "score": score, "agent": AGENT, "model_version": key.version,
             "value": list(observation.labels) if observation.labels is not None else observation.label}
        ],
        "origin": "monitor",
    }
