"""The champion model of each dataset, loaded (hash-checked) and kept in memory for predict and scoring."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from claystream_trainer.domain.ports import (
    ArtifactError,
    ArtifactStore,
    BodyProvider,
    DatasetKey,
    Embedder,
    ModelEntry,
    ModelRegistry,
)
from claystream_trainer.domain.serving_head import ServingHead, as_serving_head

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    entry: ModelEntry
    head: ServingHead
    embedder: Embedder


class ModelSources(Protocol):
    """What loading a model needs: the trainer's ports, or the predict role's (no training state)."""

    registry: ModelRegistry
    artifacts: ArtifactStore
    bodies: BodyProvider


class ChampionCache:
    """Asks the registry at most every ``ttl_s`` seconds; a corrupt or missing artifact never replaces
    the model already being served (the error is logged and the previous one stays)."""

    def __init__(self, ports: ModelSources, *, ttl_s: float) -> None:
        self._ports = ports
        self._ttl = ttl_s
        self._models: dict[DatasetKey, LoadedModel] = {}
        self._checked: dict[DatasetKey, float] = {}
        self._locks: dict[DatasetKey, asyncio.Lock] = {}
        self.load_errors: dict[DatasetKey, str] = {}
        self._versions: dict[tuple[DatasetKey, str], LoadedModel] = {}

    def _fresh(self, dataset: DatasetKey) -> bool:
        checked = self._checked.get(dataset)  # None: never asked, or forgotten (not "at time 0": boot is recent)
        return checked is not None and time.monotonic() - checked < self._ttl

    def forget(self, dataset: DatasetKey) -> None:
        self._checked.pop(dataset, None)

    async def refresh(self, dataset: DatasetKey) -> LoadedModel | None:
        """Ask the registry now (a ``model.promoted`` arrived): load and swap in the new champion."""
        self.forget(dataset)
        return await self.get(dataset)

    def serving(self) -> dict[DatasetKey, str]:
        """The version served per dataset."""
        return {dataset: loaded.entry.version for dataset, loaded in self._models.items()}

    async def get(self, dataset: DatasetKey) -> LoadedModel | None:
        current = self._models.get(dataset)
        if current is not None and self._fresh(dataset):
            return current
        lock = self._locks.setdefault(dataset, asyncio.Lock())
        async with lock:
            current = self._models.get(dataset)
            if current is not None and self._fresh(dataset):
                return current
            entry = await self._ports.registry.champion(dataset)
            self._checked[dataset] = time.monotonic()
            if entry is None or (current is not None and current.entry.version == entry.version):
                return current  # no champion for an instant (promotion retires, then crowns): keep serving
            try:
                loaded = await self.load(entry)
            except (ArtifactError, LookupError, OSError) as error:
                self.load_errors[dataset] = str(error)
                log.error("champion %s of %s not loadable, keeping %s: %s", entry.version, dataset,
                          current.entry.version if current else "none", error)
                return current
            self.load_errors.pop(dataset, None)
            self._models[dataset] = loaded
            return loaded

    async def load(self, entry: ModelEntry) -> LoadedModel:
        """Verify and load a registered model (its head, and its body: base or a fine-tuned one)."""
        head = as_serving_head(await asyncio.to_thread(self._ports.artifacts.load_head, entry.artifact_path,
                                                       entry.sha256))
        if entry.body_ref != "base":
            owner = entry if entry.body_ref == entry.version else await self._ports.registry.get(
                entry.dataset_key, entry.body_ref)
            if owner is None:
                raise ArtifactError(f"body {entry.body_ref} of {entry.version} is not in the registry")
            if owner is not entry:
                await asyncio.to_thread(self._ports.artifacts.verify, owner.artifact_path, owner.sha256)
            register = getattr(self._ports.bodies, "register", None)
            if register is not None:
                register(entry.body_ref, self._ports.artifacts.body_dir(owner.artifact_path))
        embedder = await asyncio.to_thread(self._ports.bodies.get, entry.body_ref)
        return LoadedModel(entry=entry, head=head, embedder=embedder)

    async def load_cached(self, entry: ModelEntry) -> LoadedModel:
        """Any registered version (not only the champion), kept in memory once loaded."""
        key = (entry.dataset_key, entry.version)
        if key not in self._versions:
            if len(self._versions) >= 4:  # a few shadow versions at most (each may hold a body)
                self._versions.pop(next(iter(self._versions)))
            self._versions[key] = await self.load(entry)
        return self._versions[key]

    def put(self, dataset: DatasetKey, loaded: LoadedModel) -> None:
        """A model just promoted in this process (saves a reload)."""
        self._models[dataset] = loaded
        self._checked[dataset] = time.monotonic()
