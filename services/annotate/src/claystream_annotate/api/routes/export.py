from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep, SpecDep
from claystream_annotate.services.export import export_stream

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/datasets/{dataset}", tags=["export"])


@router.get("/export")
async def export_route(
    spec: SpecDep, principal: PrincipalDep, deps: DepsDep, format: str = "jsonl", response_status: str | None = None
) -> StreamingResponse:
    """The dataset's records with their responses, streamed (jsonl | csv | parquet).  ``response_status``
    (pending|submitted|draft|discarded) keeps the records with an answer of that status by anyone
    (``pending``: nobody answered yet)."""
    chunks, media_type = export_stream(format, actor=principal, spec=spec, records=deps.records, responses=deps.responses,
                                       response_status=response_status or None)
    filename = f"{spec.workspace}-{spec.name}.{format}"
    return StreamingResponse(chunks, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
