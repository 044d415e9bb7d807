"""What a training run learns from: labelled records (from MongoDB) and their cached embeddings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from claystream_common.datasets import DatasetSpec
from claystream_common.questions import TrainingKind, question_type

from claystream_trainer.domain.ports import DatasetKey, Embedder
from claystream_trainer.services.ports_bundle import TrainerPorts


#: the question types' training kinds this trainer learns (``question_type(q).training_kind``)
TRAINED_KINDS: frozenset[TrainingKind] = frozenset({"single_label"})


@dataclass(frozen=True)
class TrainingData:
    record_ids: list[str]
    labels: list[str]
    classes: list[str]
    question: str
    text_field: str


def question_and_field(spec: DatasetSpec | None) -> tuple[str, str, list[str]]:
    """The label question and text field to learn (dataset settings, else the first of each)."""
    if spec is None:
        return "label", "text", []
    wanted = spec.trainer.question
    candidates = [q for q in spec.questions if question_type(q).training_kind in TRAINED_KINDS]
    question = next((q for q in candidates if q.name == wanted), candidates[0] if candidates else None)
    field = spec.trainer.text_field or spec.fields[0].name
    if question is None:
        return wanted or spec.questions[0].name, field, []
    return question.name, field, question_type(question).labels_for(question)


async def load_training_data(dataset: DatasetKey, spec: DatasetSpec | None, *, ports: TrainerPorts) -> TrainingData:
    question, text_field, allowed = question_and_field(spec)
    answers = await ports.labels.labelled(dataset)
    if allowed:
        answers = {r: label for r, label in answers.items() if label in allowed}
    known = await ports.records.texts(dataset, list(answers))
    ids = sorted(r for r in answers if r in known)  # a label whose record text has not arrived yet waits
    labels = [answers[r] for r in ids]
    classes = allowed or sorted(set(labels))
    return TrainingData(record_ids=ids, labels=labels, classes=classes, question=question, text_field=text_field)


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
