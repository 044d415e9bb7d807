"""When to train: pure decisions over label counters (no I/O, unit-tested directly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from claystream_common.datasets import TrainerSettings as DatasetTrainerSettings

from claystream_trainer.domain.multilabel import ready_labels

TrainingKind = Literal["refresh", "finetune"]


@dataclass(frozen=True)
class LabelCounts:
    """Per-class totals of submitted labels, and how many arrived since the last refresh / fine-tune."""

    per_class: dict[str, int] = field(default_factory=dict)
    new_since_refresh: int = 0
    new_since_finetune: int = 0

    @property
    def total(self) -> int:
        return sum(self.per_class.values())


def classes_ready(per_class: dict[str, int], labels: list[str], min_per_label: int, *,
                  multi_label: bool = False) -> bool:
    """Every label of the question (or, without a known label set, every seen one, at least two) has enough examples.
    Multi-label: at least two of its labels have (a label never chosen yet is simply never predicted)."""
    if multi_label:
        return len(ready_labels(per_class, labels, max(2, min_per_label))) >= 2
    wanted = labels or [label for label, count in per_class.items() if count > 0]
    if len(wanted) < 2:
        return False
    return all(per_class.get(label, 0) >= min_per_label for label in wanted)


def decide(
    counts: LabelCounts,
    settings: DatasetTrainerSettings,
    labels: list[str],
    *,
    has_champion: bool,
    finetune_enabled: bool = True,
    multi_label: bool = False,
) -> TrainingKind | None:
    """The training a dataset is due for now, if any (fine-tune wins over refresh)."""
    if not settings.enabled or not classes_ready(counts.per_class, labels, settings.min_per_label,
                                                 multi_label=multi_label):
        return None
    if finetune_enabled and counts.new_since_finetune >= settings.finetune_every:
        return "finetune"
    if not has_champion and counts.new_since_refresh > 0:
        return "refresh"  # the first model as soon as every label has its examples
    if counts.new_since_refresh >= settings.refresh_every:
        return "refresh"
    return None
