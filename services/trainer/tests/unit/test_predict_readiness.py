"""The predict role's /readyz: 503 until every current champion is loaded, then 200 (fakes of every port)."""

from __future__ import annotations

import asyncio

import httpx
from claystream_common.auth import Authenticator
from claystream_common.ports import RecordingPublisher
from claystream_common.settings import load_settings
from claystream_trainer.config import TrainerSettings
from claystream_trainer.predict_bootstrap import PredictDeps, ServingPorts
from claystream_trainer.predict_main import create_app
from claystream_trainer.services.champions import ChampionCache

from .fakes import FakeBodies
from .test_predict_role import train
from .test_training_loop import make_ports


class FakeKafka:
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> bool:
        return True


class FakeMongo:
    class admin:  # shaped like the client's attribute
        @staticmethod
        async def command(name: str) -> dict[str, int]:
            return {"ok": 1}

    async def close(self) -> None: ...


class SlowRegistry:
    """The trainer's registry, with ``champions()`` held until the test opens the gate."""

    def __init__(self, registry) -> None:  # type: ignore[no-untyped-def]
        self._registry = registry
        self.gate = asyncio.Event()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._registry, name)

    async def champions(self):  # type: ignore[no-untyped-def]
        await self.gate.wait()
        return await self._registry.champions()


async def test_not_ready_until_the_champions_are_loaded(tmp_path) -> None:
    trainer = make_ports(tmp_path)
    await train(trainer, 0)
    registry = SlowRegistry(trainer.registry)
    ports = ServingPorts(registry=registry, artifacts=trainer.artifacts, bodies=FakeBodies(), specs=trainer.specs,
                         publisher=RecordingPublisher())
    settings = load_settings(TrainerSettings, embedder="hashing", mode="test")
    deps = PredictDeps(settings=settings, mongo=FakeMongo(), producer=None, kafka=FakeKafka(),  # type: ignore[arg-type]
                       ports=ports, champions=ChampionCache(ports, ttl_s=3600),
                       auth=Authenticator(service_token=settings.service_token, api_keys=None))  # type: ignore[arg-type]
    app = create_app(settings, deps_factory=lambda _: deps)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://predict") as client):
        answer = await client.get("/readyz")
        assert answer.status_code == 503 and answer.json()["checks"]["champions"] == "down"
        registry.gate.set()
        for _ in range(100):
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.02)
        assert (await client.get("/readyz")).status_code == 200
        assert deps.readiness.loaded == {"acme/reviews": "v1"}
