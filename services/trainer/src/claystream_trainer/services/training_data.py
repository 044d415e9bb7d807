"""What a training run learns from: labelled records (from MongoDB) and their cached embeddings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
from claystream_common.datasets import DatasetSpec, QuestionSpec
from claystream_common.questions import TrainingKind, question_type

from claystream_trainer.domain.ports import DatasetKey, Embedder
from claystream_trainer.services.ports_bundle import TrainerPorts


Label = str | tuple[str, ...]  # one class, or the sorted set of a multi-label answer
#: the question types' training kinds this trainer learns (``question_type(q).training_kind``)
TRAINED_KINDS: frozenset[TrainingKind] = frozenset({"single_label", "multi_label", "ordinal"})
PREFERENCE: tuple[TrainingKind, ...] = ("single_label", "multi_label", "ordinal")  # without a trainer.question


@dataclass(frozen=True)
class TrainingTarget:
    """What the trainer learns for a dataset: one question, the text field it reads, and how it trains.

    ``labels``: the class names in the question's order (ordinal: the ratings 1..n as strings, in order;
    empty: learn the classes seen, only for datasets without a spec)."""

    question: str
    text_field: str
    kind: TrainingKind
    labels: list[str]

    @property
    def multi_label(self) -> bool:
        return self.kind == "multi_label"

    def label_of(self, value: Any) -> Label | None:
        """An answer's value in the shape this question trains on (a string, or a sorted tuple for multi-label);
        None when the shape is wrong.  Whether it is one of the question's labels is :meth:`knows`."""
        if value is None or isinstance(value, bool | dict):
            return None
        if self.multi_label:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                return None
            return tuple(sorted(set(value)))
        return None if isinstance(value, list | tuple) else str(value)

    def knows(self, label: Label) -> bool:
        """A label the model may learn: every member one of the question's labels (any, without a label set)."""
        if self.multi_label:
            return isinstance(label, tuple) and all(v in self.labels for v in label)
        return isinstance(label, str) and (not self.labels or label in self.labels)


def answer_value(kind: str, label: str | list[str]) -> Any:
    """A predicted label as the question's answer value (what a suggestion pre-fills): a rating's integer."""
    if kind == "ordinal" and isinstance(label, str):
        return int(label)
    return label


def text_field_of(spec: DatasetSpec | None) -> str:
    if spec is None:
        return "text"
    return spec.trainer.text_field or spec.fields[0].name


def training_target(spec: DatasetSpec | None) -> TrainingTarget | None:
    """THE decision of which question the trainer trains and how; None: the dataset has nothing it can train
    (it is then never trained).  The question named in the dataset's trainer settings, else the first
    single-label question, else the first multi-label one, else the first rating (a dataset with a label
    question trains it, as before).  How it trains is its type's ``training_kind`` in the question registry
    (label → single-label classes, multi-label → one-vs-rest, rating → ordered classes 1..n; text, span,
    ranking: None, never trained); its classes are the type's ``labels_for``."""
    if spec is None:
        return TrainingTarget(question="label", text_field="text", kind="single_label", labels=[])
    wanted = spec.question(spec.trainer.question) if spec.trainer.question else None
    question = wanted if wanted is not None else _preferred(spec)
    if question is None:
        return None
    kind = _kind_of(question)
    if kind is None:  # the settings name a question that cannot train (a text question)
        return None
    return TrainingTarget(question=question.name, text_field=text_field_of(spec), kind=kind,
                          labels=question_type(question).labels_for(question))


def _preferred(spec: DatasetSpec) -> QuestionSpec | None:
    for kind in PREFERENCE:
        found = next((q for q in spec.questions if _kind_of(q) == kind), None)
        if found is not None:
            return found
    return None


def _kind_of(question: QuestionSpec) -> TrainingKind | None:
    kind = question_type(question).training_kind
    return kind if kind in TRAINED_KINDS else None


@dataclass(frozen=True)
class TrainingData:
    record_ids: list[str]
    labels: list[Any]  # str per record; a tuple of str per record when multi-label
    classes: list[str]
    question: str
    text_field: str
    kind: TrainingKind = "single_label"

    @property
    def multi_label(self) -> bool:
        return self.kind == "multi_label"


class NothingToTrain(ValueError):
    """The dataset has no question the trainer can learn (text only, or a setting naming such a question)."""


async def load_training_data(dataset: DatasetKey, spec: DatasetSpec | None, *, ports: TrainerPorts) -> TrainingData:
    target = training_target(spec)
    if target is None:
        raise NothingToTrain(f"{dataset} has no question the trainer can learn")
    answers = await ports.labels.labelled(dataset)
    usable = {r: target.label_of(list(v) if isinstance(v, tuple) else v) for r, v in answers.items()}
    answers = {r: v for r, v in usable.items() if v is not None and target.knows(v)}
    known = await ports.records.texts(dataset, list(answers))
    ids = sorted(r for r in answers if r in known)  # a label whose record text has not arrived yet waits
    labels = [answers[r] for r in ids]
    if target.multi_label:
        classes = list(target.labels)
    else:
        classes = target.labels or sorted(set(labels))  # type: ignore[arg-type]
    return TrainingData(record_ids=ids, labels=labels, classes=classes, question=target.question,
                        text_field=target.text_field, kind=target.kind)


async def ensure_embeddings(dataset: DatasetKey, embedder: Embedder, record_ids: list[str], *, ports: TrainerPorts) -> np.ndarray:
    """Cached vectors of these records; the missing ones are embedded now (in a thread) and cached."""
    cached = ports.cache.get_many(dataset, embedder.key, record_ids)
    missing = [r for r in record_ids if r not in cached]
    if missing:
        texts = await ports.records.texts(dataset, missing)
        todo = [r for r in missing if r in texts]
        vectors = await asyncio.to_thread(embedder.embed, [texts[r] for r in todo])
        ports.cache.put_many(dataset, embedder.key, todo, vectors)
        cached.update(zip(todo, vectors, strict=True))
    return np.stack([cached[r] for r in record_ids]) if record_ids else np.zeros((0, 1), dtype=np.float32)
