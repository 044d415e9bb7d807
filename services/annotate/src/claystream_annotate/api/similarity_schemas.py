"""Request and response of the similarity search API (a stable contract: the SDK calls it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from claystream_annotate.api.schemas import RecordFilter
from claystream_annotate.services.similarity import K_MAX


class SimilarIn(BaseModel):
    """Give exactly one of ``record_id`` (its stored vector) or ``vector`` (a query vector)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"vector_field": "trainer_embeddings", "record_id": "0b3e…", "k": 10},
        {"vector_field": "mini", "vector": [0.12, -0.4, 0.33], "k": 5,
         "filter": {"status": "pending", "metadata": {"source": ["imdb_unsup"]}}},
    ]})
    vector_field: str = Field(description="a vector field of the dataset, or 'trainer_embeddings' (any dataset: "
                                          "the trainer's sentence embeddings of the records)")
    record_id: str | None = Field(default=None, description="find records similar to this one (excluded from the result)")
    vector: list[float] | None = Field(default=None, description="or to this vector (the field's dimensions)")
    k: int = Field(default=10, ge=1, le=K_MAX, description="how many records")
    filter: RecordFilter | None = Field(default=None, description="only records matching this (same meaning as "
                                                                   "the record listing's parameters)")


class SimilarRecord(BaseModel):
    """A record in the public shape of the record listing, with its cosine similarity ``score``."""

    model_config = ConfigDict(extra="allow")
    id: str
    external_id: str | None = None
    fields: dict[str, Any]
    metadata: dict[str, Any]
    suggestions: list[dict[str, Any]]
    responses: list[dict[str, Any]]
    status: str
    score: float = Field(description="cosine similarity to the query, -1..1, best first")


class SimilarOut(BaseModel):
    vector_field: str
    k: int
    indexed: int = Field(description="records with a vector in this field")
    items: list[SimilarRecord]
