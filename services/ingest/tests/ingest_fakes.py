"""In-memory fakes of the ingest ports, and an app built on them (unit and API tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from claystream_common.apikeys import hash_secret
from claystream_common.datasets import DatasetSpec
from claystream_common.kafka.producer import PublishError
from claystream_ingest.bootstrap import Deps
from claystream_ingest.config import IngestSettings
from claystream_ingest.services.ports import ApiKeyRecord, EncodedEvent, RateDecision

KEY_ID = "0123456789abcdef"
SECRET = "s3cret-value"
API_KEY = f"cs_{KEY_ID}_{SECRET}"
VIEWER_KEY_ID = "fedcba9876543210"
VIEWER_KEY = f"cs_{VIEWER_KEY_ID}_{SECRET}"
SERVICE_TOKEN = "test-service-token-0123456789"


def imdb_spec(workspace: str = "acme", name: str = "reviews") -> DatasetSpec:
    return DatasetSpec.model_validate({
        "id": "ds-1", "workspace": workspace, "name": name,
        "fields": [{"name": "text"}, {"name": "title", "required": False}],
        "questions": [
            {"name": "sentiment", "type": "label", "labels": ["positive", "negative"]},
            {"name": "topics", "type": "multi_label", "labels": ["acting", "plot", "music"], "required": False},
            {"name": "stars", "type": "rating", "rating_max": 5, "required": False},
            {"name": "note", "type": "text", "required": False},
        ],
        "metadata_properties": [
            {"name": "genre", "type": "terms", "values": ["drama", "comedy"]},
            {"name": "source", "type": "terms"},
            {"name": "year", "type": "integer"},
            {"name": "rating", "type": "float"},
        ],
        "vectors": [{"name": "mini", "dimensions": 3}],
    })


class FakeApiKeys:
    def __init__(self, *records: ApiKeyRecord) -> None:
        self.records = {record.key_id: record for record in records}

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        return self.records.get(key_id)


def default_keys() -> FakeApiKeys:
    return FakeApiKeys(
        ApiKeyRecord(KEY_ID, "acme", "backend", "annotator", hash_secret(SECRET)),
        ApiKeyRecord(VIEWER_KEY_ID, "acme", "dashboards", "viewer", hash_secret(SECRET)),
    )


class FakeCatalog:
    def __init__(self, *specs: DatasetSpec) -> None:
        self.specs = {(spec.workspace, spec.name): spec for spec in specs}

    async def get(self, workspace: str, name: str) -> DatasetSpec | None:
        return self.specs.get((workspace, name))


class FakeRateLimiter:
    def __init__(self, allow: int = 1_000_000, retry_after_s: float = 1.5) -> None:
        self.allow = allow
        self.retry_after_s = retry_after_s
        self.hits: list[str] = []

    async def hit(self, subject: str) -> RateDecision:
        self.hits.append(subject)
        if len(self.hits) > self.allow:
            return RateDecision(False, self.retry_after_s)
        return RateDecision(True)


class RecordingPublisher:
    """Keeps what was published (decoded); can be told to fail like an unreachable broker."""

    def __init__(self) -> None:
        self.published: list[tuple[str, EncodedEvent]] = []
        self.fail: bool = False

    async def publish_encoded(self, topic: str, events: Sequence[EncodedEvent]) -> None:
        if self.fail:
            raise PublishError("Kafka did not acknowledge the publish: KafkaConnectionError()")
        self.published.extend((topic, event) for event in events)

    def documents(self, topic: str | None = None) -> list[dict[str, Any]]:
        return [orjson.loads(event.value) for t, event in self.published if topic is None or t == topic]


def fake_settings(**overrides: Any) -> IngestSettings:
    return IngestSettings(service_token=SERVICE_TOKEN, mode="test", log_json=False, **overrides)


def fake_deps(settings: IngestSettings, *, publisher: RecordingPublisher | None = None,
              limiter: FakeRateLimiter | None = None) -> Deps:
    return Deps(
        settings=settings,
        publisher=publisher or RecordingPublisher(),
        api_keys=default_keys(),
        datasets=FakeCatalog(imdb_spec()),
        rate_limiter=limiter or FakeRateLimiter(),
    )
