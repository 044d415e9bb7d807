"""``GET /api/v1/limits``: the limits clients must respect (the SDK sizes pages and batches from them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep
from claystream_annotate.services.export import FORMATS
from claystream_annotate.services.record_changes import CHANGE_MAX, DELETE_MAX
from claystream_annotate.services.responses import BULK_MAX
from claystream_annotate.services.responses_import import IMPORT_MAX

router = APIRouter(prefix="/api/v1", tags=["limits"])


@router.get("/limits")
async def limits(principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    return {
        "records_page_max": deps.settings.page_max,
        "records_update_max": CHANGE_MAX,
        "records_delete_max": DELETE_MAX,
        "responses_import_max": IMPORT_MAX,
        "responses_bulk_max": BULK_MAX,
        "export_formats": sorted(FORMATS),
    }
