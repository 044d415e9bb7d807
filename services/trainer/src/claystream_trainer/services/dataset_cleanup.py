"""A deleted dataset (``dataset.deleted``): the trainer drops everything it holds of it.

Stored state — record texts, labels, Redis counters, the model registry and its version sequence, model
artifacts, cached embeddings — and, through ``forget_in_memory``, what this process keeps (pending and
running trainings, the served champion, pool rows, fine-tuned bodies).  Idempotent: a redelivered event
finds nothing left and drops nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.services.ports_bundle import TrainerPorts

ForgetInMemory = Callable[[DatasetKey], Awaitable[None]]


async def drop_dataset(dataset: DatasetKey, *, ports: TrainerPorts, forget_in_memory: ForgetInMemory) -> dict[str, int]:
    """Stop its trainings first (they would write models back), then drop what is stored, then memory."""
    await forget_in_memory(dataset)
    dropped = {
        "records": await ports.records.drop_dataset(dataset),
        "labels": await ports.labels.drop_dataset(dataset),
        "models": await ports.registry.drop_dataset(dataset),
    }
    await ports.counters.drop(dataset)
    await asyncio.to_thread(ports.artifacts.drop_dataset, dataset)
    await asyncio.to_thread(ports.cache.drop_dataset, dataset)
    await forget_in_memory(dataset)  # anything an in-flight batch touched meanwhile
    return dropped
