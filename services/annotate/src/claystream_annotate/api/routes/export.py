from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep, SpecDep
from claystream_annotate.services.export import export_stream

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/datasets/{dataset}", tags=["export"])


@router.get("/export")
async def export_route(spec: SpecDep, principal: PrincipalDep, deps: DepsDep, format: str = "jsonl") -> StreamingResponse:
    """The dataset's records with their responses, streamed (jsonl | csv | parquet)."""
    chunks, media_type = export_stream(format, actor=principal, spec=spec, records=deps.records, responses=deps.responses)
    filename = f"{spec.workspace}-{spec.name}.{format}"
    return StreamingResponse(chunks, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
