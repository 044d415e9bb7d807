"""The champion model of each dataset, loaded (hash-checked) and kept in memory for predict and scoring."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
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
SHADOW_VERSIONS = 4  # shadow versions kept loaded at once (each may hold a body)
SHADOW_LOADS_PER_MINUTE = 6  # per workspace: each load re-hashes the artifact (a body: ~100 MB)


class ShadowLoadsExhausted(Exception):
    """Too many different versions asked for by one workspace lately (each costs a verified load)."""

    def __init__(self, workspace: str, budget: int, retry_after_s: float) -> None:
        super().__init__(f"workspace {workspace} loaded {budget} model versions in the last minute; "
                         f"retry in {retry_after_s:.0f}s or ask for a version loaded already")
        self.retry_after_s = retry_after_s


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

    def __init__(self, ports: ModelSources, *, ttl_s: float, shadow_loads_per_minute: int = SHADOW_LOADS_PER_MINUTE) -> None:
        self._ports = ports
        self._ttl = ttl_s
        self._models: dict[DatasetKey, LoadedModel] = {}
        self._checked: dict[DatasetKey, float] = {}
        self._locks: dict[DatasetKey, asyncio.Lock] = {}
        self.load_errors: dict[DatasetKey, str] = {}
        self._versions: OrderedDict[tuple[DatasetKey, str], LoadedModel] = OrderedDict()  # least recently used first
        self._version_locks: dict[tuple[DatasetKey, str], asyncio.Lock] = {}
        self._shadow_loads: dict[str, deque[float]] = {}
        self._shadow_budget = shadow_loads_per_minute
        self.shadow_loads = 0

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

    def drop(self, dataset: DatasetKey) -> None:
        """A deleted dataset: nothing of its models is served any more."""
        for store in (self._models, self._checked, self.load_errors):
            store.pop(dataset, None)
        for key in [k for k in self._versions if k[0] == dataset]:
            del self._versions[key]

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
            self._ports.bodies.register(entry.dataset_key, entry.body_ref, self._ports.artifacts.body_dir(owner.artifact_path))
        embedder = await asyncio.to_thread(self._ports.bodies.get, entry.dataset_key, entry.body_ref)
        return LoadedModel(entry=entry, head=head, embedder=embedder)

    async def load_cached(self, entry: ModelEntry) -> LoadedModel:
        """Any registered version (not only the champion), kept in memory once loaded.

        Bounded, since any key of the workspace may name any version: the champion is served as
        it is; the last few versions stay loaded (least recently used out); concurrent asks for
        one version load it once; and each workspace gets a few verified loads a minute
        (ShadowLoadsExhausted past them) so cycling versions cannot keep the trainer hashing."""
        champion = await self.get(entry.dataset_key)
        if champion is not None and champion.entry.version == entry.version:
            return champion
        key = (entry.dataset_key, entry.version)
        lock = self._version_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._versions.get(key)
            if cached is None:
                self._spend_shadow_load(entry.dataset_key.workspace)
                cached = await self.load(entry)
                self._versions[key] = cached
                while len(self._versions) > SHADOW_VERSIONS:
                    self._versions.popitem(last=False)
            self._versions.move_to_end(key)
        if not lock.locked():
            self._version_locks.pop(key, None)
        return cached

    def _spend_shadow_load(self, workspace: str) -> None:
        now = time.monotonic()
        recent = self._shadow_loads.setdefault(workspace, deque())
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= self._shadow_budget:
            raise ShadowLoadsExhausted(workspace, self._shadow_budget, 60 - (now - recent[0]))
        recent.append(now)
        self.shadow_loads += 1
        for name in [w for w, times in self._shadow_loads.items() if not times]:
            del self._shadow_loads[name]

    def put(self, dataset: DatasetKey, loaded: LoadedModel) -> None:
        """A model just promoted in this process (saves a reload)."""
        self._models[dataset] = loaded
        self._checked[dataset] = time.monotonic()
