""""Find similar": the records most similar to one record, in the annotation view (a short list) and in the
bulk view (the result table ranked by similarity, so similar records can be labelled together)."""

from __future__ import annotations

from typing import Any

from claystream_common.datasets import DatasetSpec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.principals import Principal
from claystream_annotate.services.records import RecordQuery
from claystream_annotate.services.similarity import SimilarQuery, find_similar
from claystream_annotate.web.pages.annotate import load_spec
from claystream_annotate.web.rendering import render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PREVIEW = 5


async def similar_items(request: Request, principal: Principal, spec: DatasetSpec, record_id: str,
                        vector_field: str | None, *, k: int, query: RecordQuery | None = None) -> tuple[str, list[dict[str, Any]]]:
    """(the vector field used, the similar records in the API's shape, each with its ``score``)."""
    deps = request.app.state.deps
    field = vector_field or deps.vectors.default_field(spec)
    if field is None:
        raise Invalid("vector_field", "this dataset has no vector field (and no trainer to embed its records)")
    found = await find_similar(SimilarQuery(vector_field=field, record_id=record_id, k=k, filter=query), actor=principal,
                               spec=spec, index=deps.vectors, records=deps.records, responses=deps.responses)
    return field, found["items"]


@router.get("/datasets/{workspace}/{dataset}/records/{record_id}/similar")
async def similar_fragment(request: Request, principal: WebUser, workspace: str, dataset: str, record_id: str,
                           vector_field: str = "") -> Response:
    """The annotation view's "Find similar" (htmx): a short list, and a link to all of them in the bulk view."""
    spec = await load_spec(request, principal, workspace, dataset)
    field, items = await similar_items(request, principal, spec, record_id, vector_field or None, k=PREVIEW)
    text_field = spec.fields[0].name
    rows = [{"id": i["id"], "score": i["score"], "text": (i.get("fields") or {}).get(text_field, ""),
             "status": i.get("status")} for i in items]
    return render(request, "annotate/partials/similar.html", principal, spec=spec, rows=rows, vector_field=field,
                  record_id=record_id)
