"""Read annotation dataset specs (the shared ``datasets`` collection, owned by annotate)."""

from __future__ import annotations

from typing import Any

from claystream_common.datasets import DatasetSpec
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase


class MongoDatasetDirectory:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._datasets = db["datasets"]

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
