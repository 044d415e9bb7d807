"""Issue 17 (low): predicts naming a ``model_version`` cannot keep the trainer reloading and hashing."""

import asyncio

import pytest
from claystream_trainer.services.champions import ChampionCache, ShadowLoadsExhausted
from claystream_trainer.services.predict import predict
from claystream_trainer.services.refresh import run_refresh

from .test_training_loop import DS, make_ports, seed


async def test_shadow_versions_load_once_and_within_a_budget(tmp_path):
    ports = make_ports(tmp_path)
    versions = []
    for round_ in range(4):
        await seed(ports, ["positive", "negative"], 10, 0, seed_=round_)
        versions.append((await run_refresh(DS, None, ports=ports, champions=ChampionCache(ports, ttl_s=0), base_model="hashing")).entry.version)
    champion = (await ports.registry.champion(DS)).version
    others = [v for v in versions if v != champion]
    assert len(others) >= 3
    champions = ChampionCache(ports, ttl_s=60, shadow_loads_per_minute=2)

    async def ask(version: str) -> str:
        return (await predict(DS, ["great"], champions=champions, version=version, registry=ports.registry)).model_version

    assert await ask(champion) == champion and champions.shadow_loads == 0, "the champion is served as loaded"
    assert await asyncio.gather(*[ask(others[0]) for _ in range(5)]) == [others[0]] * 5
    assert champions.shadow_loads == 1, "concurrent asks for one version load it once"
    assert await ask(others[1]) == others[1] and await ask(others[0]) == others[0]
    assert champions.shadow_loads == 2
    with pytest.raises(ShadowLoadsExhausted) as refused:
        await ask(others[2])
    assert refused.value.retry_after_s > 0 and "loaded 2 model versions" in str(refused.value)
    assert await ask(others[1]) == others[1], "versions loaded already keep being served"
