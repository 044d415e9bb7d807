from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from claystream_common.kafka.producer import PublishError
from claystream_ingest.api.deps import ProducerDep
from claystream_ingest.api.schemas import RecordsAccepted, RecordsBulkCreate
from claystream_ingest.services.records import ingest_records

router = APIRouter(prefix="/api/v1", tags=["records"])


@router.post("/datasets/{dataset}/records:bulk", status_code=status.HTTP_202_ACCEPTED, response_model=RecordsAccepted)
async def bulk_create_records(dataset: str, body: RecordsBulkCreate, producer: ProducerDep) -> RecordsAccepted:
    try:
        ids = await ingest_records(dataset, [item.model_dump() for item in body.items], publisher=producer)
    except PublishError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"Kafka unavailable: {error}") from error
    return RecordsAccepted(accepted=len(ids), record_ids=ids)
