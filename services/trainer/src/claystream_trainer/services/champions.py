"""The champion model of each dataset, loaded (hash-checked) and kept in memory for predict and scoring."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from claystream_trainer.domain.ports import ArtifactError, DatasetKey, Embedder, ModelEntry
from claystream_trainer.domain.serving_head import ServingHead, as_serving_head
from claystream_trainer.services.ports_bundle import TrainerPorts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    entry: ModelEntry
    head: ServingHead
    embedder: Embedder


class ChampionCache:
    """Asks the registry at most every ``ttl_s`` seconds; a corrupt or missing artifact never replaces
    the model already being served (the error is logged and the previous one stays)."""

    def __init__(self, ports: TrainerPorts, *, ttl_s: float) -> None:
        self._ports = ports
        self._ttl = ttl_s
        self._models: dict[DatasetKey, LoadedModel] = {}
        self._checked: dict[DatasetKey, float] = {}
        self._locks: dict[DatasetKey, asyncio.Lock] = {}
        self.load_errors: dict[DatasetKey, str] = {}
        self._versions: dict[tuple[DatasetKey, str], LoadedModel] = {}

    def forget(self, dataset: DatasetKey) -> None:
        self._checked.pop(dataset, None)

    def drop(self, dataset: DatasetKey) -> None:
        """A deleted dataset: nothing of its models is served any more."""
        for store in (self._models, self._checked, self.load_errors):
            store.pop(dataset, None)
        for key in [k for k in self._versions if k[0] == dataset]:
            del self._versions[key]

    async def get(self, dataset: DatasetKey) -> LoadedModel | None:
        current = self._models.get(dataset)
        if current is not None and time.monotonic() - self._checked.get(dataset, 0.0) < self._ttl:
            return current
        lock = self._locks.setdefault(dataset, asyncio.Lock())
        async with lock:
            current = self._models.get(dataset)
            if current is not None and time.monotonic() - self._checked.get(dataset, 0.0) < self._ttl:
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
