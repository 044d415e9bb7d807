"""The predict role's use cases: load every champion before saying ready, swap one in on ``model.promoted``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from claystream_trainer.domain.ports import DatasetKey, ModelRegistry
from claystream_trainer.services.champions import ChampionCache

log = logging.getLogger(__name__)


@dataclass
class Readiness:
    """Ready once every champion registered at start-up was tried (a corrupt one is skipped, never served)."""

    warmed: bool = False
    loaded: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


async def warm_up(champions: ChampionCache, registry: ModelRegistry, readiness: Readiness) -> Readiness:
    for entry in await registry.champions():
        key = entry.dataset_key
        loaded = await champions.refresh(key)
        name = f"{key.workspace}/{key.dataset}"
        if loaded is None:
            readiness.failed[name] = champions.load_errors.get(key, "not loadable")
        else:
            readiness.loaded[name] = loaded.entry.version
    readiness.warmed = True
    log.info("predict replica ready: %d champions loaded, %d not loadable %s", len(readiness.loaded),
             len(readiness.failed), readiness.failed or "")
    return readiness


async def swap_in(dataset: DatasetKey, champions: ChampionCache) -> str | None:
    """A promotion was announced: load the new champion now (hash-checked), keep the old one if it fails."""
    loaded = await champions.refresh(dataset)
    return loaded.entry.version if loaded is not None else None
