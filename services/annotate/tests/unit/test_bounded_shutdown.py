"""A shutdown always ends: a step that hangs is left behind and the later steps still run."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from claystream_annotate import bootstrap


class Step:
    def __init__(self, hangs: bool = False) -> None:
        self.hangs, self.done = hangs, False

    async def __call__(self) -> None:
        if self.hangs:
            await asyncio.Event().wait()
        self.done = True


async def test_a_hanging_step_is_left_behind_and_the_rest_still_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "SHUTDOWN_STEP_S", 0.05)
    steps = {name: Step(hangs=name == "relay") for name in
             ("relay", "vectors", "http", "kafka", "webhooks", "sender", "redis", "mongo")}
    deps = SimpleNamespace(
        relay=SimpleNamespace(stop=steps["relay"]), vectors=SimpleNamespace(close=steps["vectors"]),
        http=SimpleNamespace(aclose=steps["http"]), kafka=SimpleNamespace(stop=steps["kafka"]),
        webhooks=SimpleNamespace(stop=steps["webhooks"]), webhook_sender=SimpleNamespace(close=steps["sender"]),
        redis=SimpleNamespace(aclose=steps["redis"]), mongo=SimpleNamespace(close=steps["mongo"]),
    )
    await asyncio.wait_for(bootstrap.close_deps(deps), timeout=5)  # type: ignore[arg-type]
    assert not steps["relay"].done
    assert all(step.done for name, step in steps.items() if name != "relay")
