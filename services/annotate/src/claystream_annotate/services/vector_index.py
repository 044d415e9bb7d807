"""The in-service vector index: one :class:`VectorMatrix` per (dataset, vector field), built on first use.

Declared fields load from the stored records (``vectors.<field>``); the reserved field
``trainer_embeddings`` loads from the trainer's embeddings API, so every dataset can be searched.
Kept in sync: records stored by this process are applied in place; a per-dataset generation number
in Redis (bumped by every replica that stores vectors) tells a replica that another one wrote, and
it rebuilds in the background while it keeps answering from the matrix it has.  The trainer's
embeddings are refreshed in the background once older than ``trainer_refresh_s``.
Production replaces all of this with a vector database (docs/SCALING.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from claystream_common.datasets import TRAINER_EMBEDDINGS, DatasetSpec

from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.vector_matrix import VectorMatrix

log = logging.getLogger(__name__)
Rows = list[tuple[str, Sequence[float] | np.ndarray]]


class StoredVectors(Protocol):
    def rows(self, dataset_id: str, field: str) -> AsyncIterator[Rows]:
        """Pages of (record id, vector) of the stored records that carry ``field``."""


class TrainerEmbeddings(Protocol):
    def rows(self, workspace: str, dataset: str) -> AsyncIterator[Rows]:
        """Pages of (record id, embedding) from the trainer (its current body)."""


class Generations(Protocol):
    async def current(self, dataset_id: str) -> int: ...

    async def bump(self, dataset_id: str) -> int: ...

    async def drop(self, dataset_id: str) -> None: ...


@dataclass
class _Entry:
    matrix: VectorMatrix
    generation: int
    built_at: float = field(default_factory=time.monotonic)
    refreshing: asyncio.Task[None] | None = None


class VectorIndex:
    def __init__(self, *, stored: StoredVectors, generations: Generations, trainer: TrainerEmbeddings | None = None,
                 trainer_refresh_s: float = 30.0) -> None:
        self._stored = stored
        self._generations = generations
        self.trainer = trainer  # the trainer embeddings source (None: no trainer_embeddings field)
        self._trainer_refresh_s = trainer_refresh_s
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._warming: asyncio.Task[None] | None = None

    def warm(self, specs: Sequence[DatasetSpec]) -> None:
        """Build the declared fields' matrices in the background (at start: the first "find similar" then
        does not pay the build, ~35 s for 50k × 384 on nx-27017)."""
        async def build_all() -> None:
            for spec in specs:
                for declared in spec.vectors:
                    try:
                        await self.matrix(spec, declared.name)
                    except Exception as error:  # noqa: BLE001 - a query builds it later
                        log.warning("warming the %s vectors of %s failed: %r", declared.name, spec.name, error)

        self._warming = asyncio.create_task(build_all(), name="vectors:warm")

    def fields(self, spec: DatasetSpec) -> list[str]:
        """The vector fields similarity search can use on this dataset."""
        return [v.name for v in spec.vectors] + ([TRAINER_EMBEDDINGS] if self.trainer is not None else [])

    def default_field(self, spec: DatasetSpec) -> str | None:
        """What "find similar" uses when the user picks nothing: the first declared field, else the trainer's."""
        return next(iter(self.fields(spec)), None)

    def dimensions(self, spec: DatasetSpec, field_name: str) -> int | None:
        declared = spec.vector_field(field_name)
        return declared.dimensions if declared is not None else None

    async def matrix(self, spec: DatasetSpec, field_name: str) -> VectorMatrix:
        """The field's matrix (built now if absent; refreshed in the background if another replica wrote)."""
        if field_name not in self.fields(spec):
            known = ", ".join(self.fields(spec)) or "none"
            raise Invalid("vector_field", f"unknown vector field {field_name!r} (dataset vector fields: {known})")
        key = (spec.id, field_name)
        entry = self._entries.get(key)
        wanted = self.dimensions(spec, field_name)
        if entry is None or (wanted is not None and entry.matrix.dimensions != wanted):
            async with self._locks.setdefault(key, asyncio.Lock()):
                entry = self._entries.get(key)
                if entry is None or (wanted is not None and entry.matrix.dimensions != wanted):
                    entry = await self._build(spec, field_name)
                    self._entries[key] = entry
            return entry.matrix
        if await self._stale(spec, field_name, entry) and (entry.refreshing is None or entry.refreshing.done()):
            entry.refreshing = asyncio.create_task(self._refresh(spec, field_name), name=f"vectors:{key}")
        return entry.matrix

    async def _stale(self, spec: DatasetSpec, field_name: str, entry: _Entry) -> bool:
        if field_name == TRAINER_EMBEDDINGS:
            return time.monotonic() - entry.built_at > self._trainer_refresh_s
        return await self._generations.current(spec.id) != entry.generation

    async def _refresh(self, spec: DatasetSpec, field_name: str) -> None:
        try:
            self._entries[(spec.id, field_name)] = await self._build(spec, field_name)
        except Exception as error:  # noqa: BLE001 - keep serving the old matrix; the next query retries
            log.warning("rebuilding the %s vectors of %s failed: %r", field_name, spec.name, error)

    async def _build(self, spec: DatasetSpec, field_name: str) -> _Entry:
        began = time.perf_counter()
        if field_name == TRAINER_EMBEDDINGS:
            assert self.trainer is not None
            generation, pages = 0, self.trainer.rows(spec.workspace, spec.name)
        else:
            generation, pages = await self._generations.current(spec.id), self._stored.rows(spec.id, field_name)
        matrix: VectorMatrix | None = None
        dimensions = self.dimensions(spec, field_name)
        async for page in pages:
            if matrix is None:
                matrix = VectorMatrix(dimensions or len(page[0][1]), capacity=max(1024, 2 * len(page)))
            matrix.upsert(page)
        entry = _Entry(matrix or VectorMatrix(dimensions or 1), generation)
        log.info("vector index %s/%s: %d rows in %.2fs", spec.name, field_name, len(entry.matrix),
                 time.perf_counter() - began)
        return entry

    async def stored(self, dataset_id: str, records: Sequence[tuple[str, dict[str, list[float]]]]) -> None:
        """Records with vectors were stored (the records consumer): apply them to the loaded matrices."""
        records = [(record_id, vectors) for record_id, vectors in records if vectors]
        if not records:
            return
        generation = await self._generations.bump(dataset_id)
        for (entry_dataset, field_name), entry in list(self._entries.items()):
            if entry_dataset != dataset_id or field_name == TRAINER_EMBEDDINGS:
                continue
            entry.matrix.upsert((r, v[field_name]) for r, v in records if field_name in v)
            if entry.generation == generation - 1:
                entry.generation = generation  # nobody else wrote in between: still complete

    def removed(self, dataset_id: str, record_ids: Sequence[str]) -> None:
        for (entry_dataset, _), entry in self._entries.items():
            if entry_dataset == dataset_id:
                entry.matrix.remove(record_ids)

    async def drop(self, dataset_id: str) -> None:
        """A deleted dataset: its matrices and its generation number."""
        for key in [k for k in self._entries if k[0] == dataset_id]:
            entry = self._entries.pop(key)
            if entry.refreshing is not None:
                entry.refreshing.cancel()
            self._locks.pop(key, None)
        await self._generations.drop(dataset_id)

    async def close(self) -> None:
        tasks = [e.refreshing for e in self._entries.values() if e.refreshing is not None]
        tasks += [self._warming] if self._warming is not None else []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
