"""Read annotation dataset specs (the shared ``datasets`` collection, owned by annotate)."""

from __future__ import annotations

import time
from typing import Any

from claystream_common.datasets import DatasetSpec
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase


class MongoDatasetDirectory:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, known_ttl_s: float = 60.0, unknown_ttl_s: float = 5.0) -> None:
        self._datasets = db["datasets"]
        self._known_ttl_s = known_ttl_s
        self._unknown_ttl_s = unknown_ttl_s
        self._exists: dict[tuple[str | None, str], tuple[bool, float]] = {}

    async def exists(self, workspace: str | None, dataset: str) -> bool:
        """Whether annotate has this dataset (cached briefly: checked on every consumed batch)."""
        key = (workspace, dataset)
        cached = self._exists.get(key)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        query: dict[str, Any] = {"name": dataset}
        if workspace:
            query["workspace"] = workspace
        found = await self._datasets.find_one(query, {"_id": 1}) is not None
        self._exists[key] = (found, now + (self._known_ttl_s if found else self._unknown_ttl_s))
        return found

    def forget(self, workspace: str | None, dataset: str) -> None:
        self._exists.pop((workspace, dataset), None)

    async def label_target(self, workspace: str | None, dataset: str) -> tuple[str, str] | None:
        query: dict[str, Any] = {"name": dataset}
        if workspace:
            query["workspace"] = workspace
        document = await self._datasets.find_one(query)
        if document is None:
            return None
        try:
            spec = DatasetSpec.from_document(document)
        except ValidationError:
            return None
        text_field = spec.trainer.text_field or spec.fields[0].name
        question = spec.trainer.question or next(
            (q.name for q in spec.questions if q.type in ("label", "multi_label")), spec.questions[0].name
        )
        return text_field, question
