"""The trainer's embeddings of a dataset's records, page by page (annotate's similarity index reads them).

The vectors are those the embedding worker caches for the dataset's current body (the champion's, else
the base model's), so they cost nothing to serve; records not embedded yet are simply absent.
"""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass

import numpy as np

from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.ports_bundle import TrainerPorts


@dataclass(frozen=True)
class EmbeddingsPage:
    body_key: str
    ids: list[str]
    vectors: np.ndarray  # len(ids) × dimensions, float32
    next_after: str | None


async def embeddings_page(dataset: DatasetKey, *, ports: TrainerPorts, champions: ChampionCache, after: str | None,
                          limit: int) -> EmbeddingsPage:
    """Records in id order after ``after``; ``next_after`` continues (None at the end)."""
    loaded = await champions.get(dataset)
    embedder = loaded.embedder if loaded else await asyncio.to_thread(ports.bodies.get, dataset, "base")
    ids = sorted(await ports.records.all_ids(dataset))
    start = bisect.bisect_right(ids, after) if after else 0
    chunk = ids[start:start + limit]
    cached = ports.cache.get_many(dataset, embedder.key, chunk)
    present = [r for r in chunk if r in cached]
    vectors = (np.stack([cached[r] for r in present]).astype(np.float32) if present
               else np.zeros((0, 0), dtype=np.float32))
    next_after = chunk[-1] if chunk and start + limit < len(ids) else None
    return EmbeddingsPage(body_key=embedder.key, ids=present, vectors=vectors, next_after=next_after)
