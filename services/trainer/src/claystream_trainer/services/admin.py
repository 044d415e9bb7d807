"""Admin use cases: promote a version by hand, roll back to the previous champion."""

from __future__ import annotations

from claystream_trainer.domain.ports import DatasetKey, ModelEntry
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.refresh import promote_and_suggest


class UnknownModel(LookupError):
    pass


async def promote_version(dataset: DatasetKey, version: str, *, ports: TrainerPorts, champions: ChampionCache,
                          suggestion_batch: int = 2000) -> ModelEntry:
    """Verify the artifact (a corrupt or missing one raises ArtifactError and changes nothing), then promote."""
    entry = await ports.registry.get(dataset, version)
    if entry is None:
        raise UnknownModel(f"no model {version} for {dataset}")
    loaded = await champions.load(entry)
    previous = await ports.registry.champion(dataset)
    if previous is not None and previous.version == version:
        return entry
    labelled = set(await ports.labels.labelled(dataset))
    await promote_and_suggest(dataset, loaded, previous, ports=ports, champions=champions, labelled=labelled,
                              batch=suggestion_batch)
    return loaded.entry


async def rollback(dataset: DatasetKey, *, ports: TrainerPorts, champions: ChampionCache) -> ModelEntry:
    """Back to the most recently promoted earlier model whose artifact still verifies."""
    champion = await ports.registry.champion(dataset)
    earlier = [m for m in await ports.registry.list(dataset, limit=200)
               if m.status == "retired" and m.promoted_at is not None
               and (champion is None or m.version != champion.version)]
    earlier.sort(key=lambda m: m.promoted_at, reverse=True)  # type: ignore[arg-type, return-value]
    errors = []
    for candidate in earlier:
        try:
            return await promote_version(dataset, candidate.version, ports=ports, champions=champions)
        except Exception as error:  # noqa: BLE001 - try the one before
            errors.append(f"{candidate.version}: {error}")
    raise UnknownModel(f"no earlier champion to roll back to for {dataset}" + (f" ({'; '.join(errors)})" if errors else ""))
