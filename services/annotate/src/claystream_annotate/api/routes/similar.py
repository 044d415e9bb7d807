"""Similarity search over a vector field (stored vectors, or the trainer's embeddings)."""

from __future__ import annotations

from fastapi import APIRouter

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep, SpecDep
from claystream_annotate.api.schemas import RecordFilter
from claystream_annotate.api.similarity_schemas import SimilarIn, SimilarOut
from claystream_annotate.services.records import RecordQuery
from claystream_annotate.services.similarity import SimilarQuery, find_similar

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/datasets/{dataset}", tags=["records"])


def filter_query(f: RecordFilter | None) -> RecordQuery | None:
    return None if f is None else f.query()


@router.post("/records/similar", response_model=SimilarOut,
             responses={404: {"description": "dataset or record not found"},
                        422: {"description": "bad input: the field and the reason (unknown vector field, "
                                               "wrong dimension, both or neither of record_id / vector, ...)"},
                        503: {"description": "trainer_embeddings: the trainer does not answer now (retry)"}})
async def similar_route(body: SimilarIn, spec: SpecDep, principal: PrincipalDep, deps: DepsDep) -> SimilarOut:
    """The ``k`` records most similar (cosine) to ``record_id``'s vector or to ``vector`` in ``vector_field``,
    among the records matching ``filter``; best first, each with its ``score``."""
    query = SimilarQuery(vector_field=body.vector_field, record_id=body.record_id, vector=body.vector, k=body.k,
                         filter=filter_query(body.filter))
    return SimilarOut.model_validate(await find_similar(query, actor=principal, spec=spec, index=deps.vectors,
                                                        records=deps.records, responses=deps.responses))
