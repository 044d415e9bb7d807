"""Start and stop a service's Kafka clients without blocking start-up on an outage.

The producer and the consumer runners are (re)started in the background with
backoff, so a service comes up (not ready) while Kafka is down and becomes ready
when it is back.  Readiness checks ping Kafka, MongoDB and Redis for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from claystream_common.kafka.consumer import ConsumerRunner
from claystream_common.kafka.producer import EventProducer
from claystream_common.mongo import ping_mongo
from claystream_common.redis_client import ping_redis

log = logging.getLogger(__name__)


class KafkaRuntime:
    def __init__(
        self,
        producer: EventProducer,
        runners: Sequence[ConsumerRunner] = (),
        *,
        retry_s: float = 1.0,
        supervise_every_s: float = 5.0,
    ) -> None:
        self.producer = producer
        self.runners = list(runners)
        self._retry_s = retry_s
        self._supervise_every_s = supervise_every_s
        self._task: asyncio.Task[None] | None = None
        self.started = asyncio.Event()
        self.restarts = 0

    async def start(self, *, wait_s: float = 5.0) -> None:
        """Try to connect for ``wait_s`` seconds, then keep trying in the background."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._connect_forever(), name="kafka-connect")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.started.wait()), timeout=wait_s)

    async def _connect_forever(self) -> None:
        delay = self._retry_s
        while not self.producer.started:
            try:
                await self.producer.start()
            except Exception as error:  # noqa: BLE001
                log.warning("Kafka producer not connected yet: %r", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
        # joining a group takes seconds (3 s on Tansu): join all groups at once
        await asyncio.gather(*(self._start_runner(runner) for runner in self.runners))
        self.started.set()
        while True:  # a runner whose loop ended on its own is started again
            await asyncio.sleep(self._supervise_every_s)
            for runner in self.runners:
                if not runner.running:
                    log.warning("consumer %s is not running; restarting it", runner.topics)
                    self.restarts += 1
                    await self._start_runner(runner)

    async def _start_runner(self, runner: ConsumerRunner) -> None:
        delay = self._retry_s
        while not runner.running:
            try:
                await runner.start()
            except Exception as error:  # noqa: BLE001
                log.warning("consumer %s not started yet: %r", runner.topics, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def stop(self) -> None:
        """Runners first (they may still dead-letter through the producer), all at once; then the producer."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await asyncio.gather(*(runner.stop() for runner in self.runners), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.producer.stop()

    async def ping(self) -> bool:
        if not self.started.is_set():
            return False
        await self.producer.ping()
        return all(runner.running for runner in self.runners)


def standard_checks(*, kafka: KafkaRuntime | None, mongo: Any | None, redis: Any | None) -> dict[str, Callable[[], Awaitable[object]]]:
    checks: dict[str, Callable[[], Awaitable[object]]] = {}
    if kafka is not None:
        checks["kafka"] = kafka.ping
    if mongo is not None:
        checks["mongo"] = lambda: ping_mongo(mongo)
    if redis is not None:
        checks["redis"] = lambda: ping_redis(redis)
    return checks
