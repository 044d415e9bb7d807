from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from claystream_annotate.api.deps import RecordsDep

router = APIRouter(prefix="/api/v1", tags=["records"])


@router.get("/records/{record_id}")
async def get_record(record_id: str, records: RecordsDep) -> dict[str, Any]:
    record = await records.get(record_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"record {record_id} not found")
    record["id"] = record.pop("_id")
    return record
