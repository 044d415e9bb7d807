"""Work-arounds for the embedded Tansu broker (harmless against Apache Kafka)."""

from __future__ import annotations

from typing import Any


def let_first_generation_leave(consumer: Any) -> None:
    """Call right before ``AIOKafkaConsumer.stop()`` so that the consumer leaves its group.

    aiokafka sends LeaveGroup on stop only from generation 1 on (Kafka numbers generations from 1);
    Tansu numbers the first generation 0.  Without this, the next member of the group waits ~8 s
    (a SyncGroup that fails for want of the departed leader) before it gets partitions.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is not None and getattr(coordinator, "generation", None) == 0 and getattr(coordinator, "member_id", ""):
        coordinator.generation = 1
