"""The predict role: loads champions from the shared store before it is ready, swaps on a promotion,
never serves a corrupt artifact, and holds no training state (its ports have no counters, lock or cache)."""

from __future__ import annotations

import dataclasses

import pytest
from claystream_common.ports import RecordingPublisher
from claystream_trainer.predict_bootstrap import ServingPorts
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.predict import NoChampion, predict
from claystream_trainer.services.refresh import run_refresh
from claystream_trainer.services.serving import Readiness, swap_in, warm_up

from .fakes import FakeBodies
from .test_training_loop import DS, make_ports, seed


def replica_of(trainer_ports) -> ChampionCache:
    """A replica shares only the registry and the model store with the trainer."""
    ports = ServingPorts(registry=trainer_ports.registry, artifacts=trainer_ports.artifacts, bodies=FakeBodies(),
                         specs=trainer_ports.specs, publisher=RecordingPublisher())
    return ChampionCache(ports, ttl_s=3600)  # only a promotion (or a restart) makes it look again


async def train(ports, seed_: int):
    await seed(ports, ["positive", "negative"], 10, 0, seed_=seed_)
    return await run_refresh(DS, None, ports=ports, champions=ChampionCache(ports, ttl_s=0), base_model="hashing")


def test_serving_ports_hold_no_training_state():
    assert {f.name for f in dataclasses.fields(ServingPorts)} == {"registry", "artifacts", "bodies", "specs", "publisher"}


async def test_replica_loads_champions_before_ready_and_swaps_on_promotion(tmp_path):
    trainer = make_ports(tmp_path)
    await train(trainer, 0)
    replica = replica_of(trainer)
    readiness = await warm_up(replica, trainer.registry, Readiness())
    assert readiness.warmed and readiness.loaded == {"acme/reviews": "v1"}
    assert replica.serving() == {DS: "v1"}  # loaded before the first request
    await train(trainer, 1)  # v2 promoted by the trainer
    assert (await predict(DS, ["great"], champions=replica)).model_version == "v1"
    assert await swap_in(DS, replica) == "v2"  # model.promoted heard
    assert (await predict(DS, ["great"], champions=replica)).model_version == "v2"


async def test_corrupt_artifact_is_never_served(tmp_path):
    trainer = make_ports(tmp_path)
    await train(trainer, 0)
    replica = replica_of(trainer)
    await warm_up(replica, trainer.registry, Readiness())
    await train(trainer, 1)
    (tmp_path / DS.workspace / DS.dataset / "v2" / "head.joblib").write_bytes(b"tampered")
    assert await swap_in(DS, replica) == "v1"  # the promotion of a corrupt v2 keeps v1
    assert "corrupt" in replica.load_errors[DS]
    late = replica_of(trainer)  # a replica starting now: its only champion is corrupt
    readiness = await warm_up(late, trainer.registry, Readiness())
    assert readiness.warmed and readiness.loaded == {} and "corrupt" in readiness.failed["acme/reviews"]
    with pytest.raises(NoChampion):
        await predict(DS, ["great"], champions=late)
