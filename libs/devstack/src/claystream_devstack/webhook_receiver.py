"""Local webhook receivers for tests and benchmarks: a real HTTP server on 127.0.0.1 (aiohttp) that
records what arrives and misbehaves on purpose when asked (fails a share of requests, hangs, answers
10 MB, redirects)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from claystream_devstack.processes import free_port


@dataclass
class Arrival:
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    at: float  # time.time() on arrival
    status: int


@dataclass
class Receiver:
    """``behaviour``: ok | fail (``fail_ratio`` of requests answer 500) | hang | huge | redirect | status."""

    behaviour: str = "ok"
    fail_ratio: float = 0.0
    status: int = 200
    hang_s: float = 3600.0
    seed: int = 7
    arrivals: list[Arrival] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _rng: random.Random = field(default_factory=random.Random)
    _new: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def delivered(self) -> list[Arrival]:
        """Arrivals answered with a 2xx (what the sender counts as delivered)."""
        return [a for a in self.arrivals if 200 <= a.status < 300]

    def ids(self) -> set[str]:
        return {a.webhook_id for a in self.delivered}

    async def start(self) -> Receiver:
        self._rng = random.Random(self.seed)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/hook", self._handle)
        app.router.add_get("/elsewhere", lambda _r: web.Response(text="moved here"))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)  # a hanging handler must not hold up stop()
        await self._runner.setup()
        self.port = self.port or free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        status = self._status()
        self.arrivals.append(Arrival(
            webhook_id=request.headers.get("webhook-id", ""), timestamp=request.headers.get("webhook-timestamp", ""),
            signature=request.headers.get("webhook-signature", ""), body=body, at=time.time(), status=status,
        ))
        self._new.set()
        if self.behaviour == "hang":
            await asyncio.sleep(self.hang_s)
        if self.behaviour == "huge":
            return web.Response(body=b"x" * (10 * 1024 * 1024), status=200)
        if self.behaviour == "redirect":
            raise web.HTTPFound(f"http://127.0.0.1:{self.port}/elsewhere")
        return web.Response(text="ok" if status < 300 else "boom", status=status)

    def _status(self) -> int:
        if self.behaviour == "fail":
            return 500 if self._rng.random() < self.fail_ratio else 200
        if self.behaviour == "status":
            return self.status
        return 200

    async def wait_for(self, count: int, *, timeout_s: float = 20.0, delivered_only: bool = True) -> list[Arrival]:
        """Poll (event-driven, with a deadline) until ``count`` arrivals are there."""
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.delivered if delivered_only else self.arrivals
            if len(got) >= count:
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.url}: {len(got)} of {count} arrivals after {timeout_s} s")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass


async def start_receivers(*receivers: Receiver) -> list[Receiver]:
    return [await r.start() for r in receivers]


def summary(receiver: Receiver) -> dict[str, Any]:
    ids = [a.webhook_id for a in receiver.delivered]
    return {"url": receiver.url, "arrivals": len(receiver.arrivals), "delivered": len(ids), "unique": len(set(ids))}
