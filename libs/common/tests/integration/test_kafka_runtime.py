"""KafkaRuntime against the real embedded Kafka: groups joined at once, a runner that stopped is started
again, a service comes up (not ready) while Kafka is unreachable."""

from __future__ import annotations

import time
from typing import Any

import pytest
from claystream_common.events import Envelope
from claystream_common.kafka.consumer import Subscription
from claystream_common.kafka.producer import EventProducer, PublishError
from claystream_common.runtime import KafkaRuntime
from claystream_devstack.processes import free_port

pytestmark = pytest.mark.slow


async def test_runners_join_at_once_and_one_that_stopped_is_started_again(kit) -> None:
    handled: list[str] = []

    async def handle(event: Envelope[Any]) -> None:
        handled.append(event.data.record_id)

    producer = EventProducer(kit.bootstrap, service="runtime-test")
    first = kit.runner([Subscription("record.ingested", handler=handle)], group=f"{kit.group}-1")
    second = kit.runner([Subscription("record.ingested", handler=handle)], group=f"{kit.group}-2")
    runtime = KafkaRuntime(producer, [first, second], supervise_every_s=0.2)
    started = time.monotonic()
    await runtime.start(wait_s=30)
    try:
        assert runtime.started.is_set()
        # each join takes ~3 s on Tansu; one after the other would take 6 s or more
        assert time.monotonic() - started < 5.5
        assert await runtime.ping() is True

        await first.stop()  # as if its loop had ended
        assert await runtime.ping() is False
        await kit.wait_for(lambda: first.running, "the supervisor to restart the runner", timeout_s=15)
        assert runtime.restarts == 1
        await kit.publish([kit.event("after-restart")])
        await kit.wait_for(lambda: handled.count("after-restart") == 2, "both groups to handle the event")
        assert await runtime.ping() is True
    finally:
        await runtime.stop()
    assert not first.running and not second.running and not producer.started


async def test_a_service_starts_not_ready_while_kafka_is_unreachable() -> None:
    producer = EventProducer(f"127.0.0.1:{free_port()}", service="runtime-test", request_timeout_ms=1000)
    runtime = KafkaRuntime(producer, retry_s=0.1)
    started = time.monotonic()
    await runtime.start(wait_s=0.5)
    assert time.monotonic() - started < 3
    assert await runtime.ping() is False
    with pytest.raises(PublishError, match="not started"):
        await producer.send_raw("records", b"{}")
    await runtime.stop()
    assert not producer.started
