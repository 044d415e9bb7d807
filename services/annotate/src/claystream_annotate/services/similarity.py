"""Similarity search: the top-k records most similar (cosine) to a record or to a given vector, in one
vector field, among the records matching the same filters as the record listing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from claystream_common.datasets import DatasetSpec

from claystream_annotate.services.errors import Invalid, NotFound
from claystream_annotate.services.ports import RecordStore, ResponseStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.records import RecordQuery, attach_responses, build_query
from claystream_annotate.services.response_scope import resolve_scope
from claystream_annotate.services.vector_index import VectorIndex

K_MAX = 200
# With a filter, the best ``WIDEN × k`` candidates are checked against it in MongoDB first, then 4× more until k match
# or every record was checked (nx-27017 reads ~0.3 ms per document: a wide first round costs more than it saves)
WIDEN = 8


@dataclass(frozen=True)
class SimilarQuery:
    vector_field: str
    record_id: str | None = None
    vector: list[float] | None = None
    k: int = 10
    filter: RecordQuery | None = None


async def find_similar(query: SimilarQuery, *, actor: Principal, spec: DatasetSpec, index: VectorIndex,
                       records: RecordStore, responses: ResponseStore) -> dict[str, Any]:
    actor.require(spec.workspace, Role.ANNOTATOR)
    if (query.record_id is None) == (query.vector is None):
        raise Invalid("record_id", "give exactly one of record_id or vector")
    if not 1 <= query.k <= K_MAX:
        raise Invalid("k", f"between 1 and {K_MAX}")
    matrix = await index.matrix(spec, query.vector_field)
    target = await _target(query, spec, matrix.dimensions, matrix.vector_of, records)
    conditions = query.filter or RecordQuery()
    conditions.response_scope = resolve_scope(actor, spec.workspace, conditions.response_scope)
    built = build_query(spec, conditions, actor.user_id)
    plain = set(built.mongo) == {"dataset_id"} and not built.in_python
    wanted = query.k + (1 if query.record_id else 0)
    width = wanted if plain else WIDEN * wanted
    chosen: list[tuple[dict[str, Any], float]] = []
    while True:
        ranked = [(r, s) for r, s in matrix.ranked(target, width) if r != query.record_id]
        ids = [r for r, _ in ranked]
        if plain:
            found = {d["_id"]: d for d in await records.get_many(ids) if d.get("dataset_id") == spec.id}
        else:
            documents = await records.find({**built.mongo, "_id": {"$in": ids}}, sort=[("seq", 1)], limit=len(ids))
            found = {d["_id"]: d for d in documents if built.accepts(spec, d)}
        chosen = [(found[r], s) for r, s in ranked if r in found][: query.k]
        if len(chosen) >= query.k or width >= len(matrix):
            break
        width *= 4
    items = await attach_responses([d for d, _ in chosen], actor=actor, spec=spec, responses=responses)
    for item, (_, score) in zip(items, chosen, strict=True):
        item["score"] = round(score, 6)
    return {"vector_field": query.vector_field, "k": query.k, "indexed": len(matrix), "items": items}


async def _target(query: SimilarQuery, spec: DatasetSpec, dimensions: int, indexed: Any, records: RecordStore) -> np.ndarray:
    if query.vector is not None:
        if len(query.vector) != dimensions:
            raise Invalid("vector", f"must be a list of {dimensions} numbers for {query.vector_field} (got {len(query.vector)})")
        if not all(isinstance(x, int | float) and math.isfinite(x) for x in query.vector):
            raise Invalid("vector", "must contain only finite numbers")
        return np.asarray(query.vector, dtype=np.float32)
    assert query.record_id is not None
    vector = indexed(query.record_id)
    if vector is not None:
        return vector
    document = await records.get(query.record_id)
    if document is None or document.get("dataset_id") != spec.id:
        raise NotFound(f"record {query.record_id} not found in dataset {spec.name}")
    stored = (document.get("vectors") or {}).get(query.vector_field)
    if stored is None:
        raise Invalid("record_id", f"record {query.record_id} has no {query.vector_field} vector (yet)")
    return np.asarray(stored, dtype=np.float32)
