"""Background embedding of every record with the champion's body (the cache the fast tier relies on).

The truth is "records in MongoDB without a cached vector for the current body": a poke (new records,
a new body promoted) or the periodic sweep embeds what is missing in batches, in a worker thread, and
— once a champion exists — scores each new batch and publishes its suggestions right away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import numpy as np

from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.suggestions import publish_suggestions

log = logging.getLogger(__name__)


class EmbeddingWorker:
    def __init__(self, ports: TrainerPorts, champions: ChampionCache, *, batch_size: int, flush_s: float,
                 sweep_s: float = 30.0, on_stale_student: Callable[[DatasetKey], None] | None = None) -> None:
        self._ports = ports
        self._champions = champions
        self._batch = batch_size
        self._flush_s = flush_s
        self._sweep_s = sweep_s
        self._on_stale_student = on_stale_student
        self._dirty: set[DatasetKey] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.embedded = 0  # by this process, every dataset together
        # per dataset: its records with a vector for the body in use, as of the last fill (the status route's figure)
        self.covered: dict[DatasetKey, int] = {}
        self.last_error: str | None = None

    def poke(self, dataset: DatasetKey) -> None:
        self._dirty.add(dataset)
        self._wake.set()

    def forget(self, dataset: DatasetKey) -> None:
        self._dirty.discard(dataset)
        self.covered.pop(dataset, None)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="embedding-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        with contextlib.suppress(Exception):
            for dataset in await self._ports.records.datasets():  # catch up after a restart
                self._dirty.add(dataset)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._sweep_s)
            self._wake.clear()
            await asyncio.sleep(self._flush_s)  # let a burst of records land first
            dirty, self._dirty = self._dirty, set()
            for dataset in dirty:
                try:
                    await self.fill(dataset)
                    self.last_error = None
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - retried on the next poke / sweep
                    self.last_error = repr(error)
                    log.warning("embedding %s failed, will retry: %r", dataset, error)
                    self._dirty.add(dataset)
                    await asyncio.sleep(1.0)

    async def fill(self, dataset: DatasetKey) -> int:
        """Embed every record of the dataset that the current body has no vector for; returns how many."""
        loaded = await self._champions.get(dataset)
        embedder = loaded.embedder if loaded else await asyncio.to_thread(self._ports.bodies.get, dataset, "base")
        ids = await self._ports.records.all_ids(dataset)
        cached = self._ports.cache.get_many(dataset, embedder.key, ids)
        missing = [r for r in ids if r not in cached]
        self.covered[dataset] = len(cached)
        done = 0
        labelled: set[str] | None = None
        for start in range(0, len(missing), self._batch):
            if self._wake.is_set() and loaded is not None:
                current = await self._champions.get(dataset)
                if current is not None and current.entry.body_key != loaded.entry.body_key:
                    self._dirty.add(dataset)  # a new body arrived: start over with it
                    return done
            chunk = missing[start:start + self._batch]
            texts = await self._ports.records.texts(dataset, chunk)
            chunk = [r for r in chunk if r in texts]
            began = time.perf_counter()
            embed = getattr(embedder, "embed_background", embedder.embed)  # yields to predict between slices
            vectors = await asyncio.to_thread(embed, [texts[r] for r in chunk])
            self._ports.cache.put_many(dataset, embedder.key, chunk, vectors)
            done += len(chunk)
            self.embedded += len(chunk)
            self.covered[dataset] = len(cached) + done
            log.debug("embedded %d records of %s in %.2fs", len(chunk), dataset, time.perf_counter() - began)
            if loaded is not None:
                if labelled is None:
                    labelled = set(await self._ports.labels.labelled(dataset))
                pending = [i for i, r in enumerate(chunk) if r not in labelled]
                if pending:
                    probabilities = await asyncio.to_thread(
                        loaded.head.probabilities, texts=[texts[chunk[i]] for i in pending],
                        vectors=np.asarray(vectors)[pending])
                    await publish_suggestions(dataset, loaded.entry, loaded.head,
                                              [chunk[i] for i in pending], probabilities,
                                              publisher=self._ports.publisher, records=self._ports.records)
        if done and loaded is not None and self._on_stale_student is not None:
            student = loaded.head.student
            if student is not None and student.teacher_key != embedder.key:
                self._on_stale_student(dataset)  # every record now has this body's vector: retrain the student
        return done
