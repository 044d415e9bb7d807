"""Topic registry: every topic has a ``<topic>.dlq`` and an explicit partition count."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Topic(StrEnum):
    RECORDS = "records"
    RESPONSES = "responses"
    SUGGESTIONS = "suggestions"
    MODELS = "models"
    PREDICTIONS = "predictions"
    FEEDBACK = "feedback"
    DRIFT = "drift"
    DATASETS = "datasets"

    @property
    def dlq(self) -> str:
        return dlq_name(self.value)


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int


TOPIC_PARTITIONS: dict[Topic, int] = {
    Topic.RECORDS: 4,
    Topic.RESPONSES: 4,
    Topic.SUGGESTIONS: 4,
    Topic.MODELS: 1,
    Topic.PREDICTIONS: 4,
    Topic.FEEDBACK: 4,
    Topic.DRIFT: 1,
    Topic.DATASETS: 1,
}
DLQ_PARTITIONS = 1


def topic_specs(prefix: str = "") -> list[TopicSpec]:
    """All topics and their DLQs, optionally name-prefixed (tests isolate runs that way)."""
    specs: list[TopicSpec] = []
    for topic, partitions in TOPIC_PARTITIONS.items():
        specs.append(TopicSpec(f"{prefix}{topic.value}", partitions))
        specs.append(TopicSpec(f"{prefix}{topic.dlq}", DLQ_PARTITIONS))
    return specs
