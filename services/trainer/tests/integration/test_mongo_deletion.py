"""The trainer's record and label collections on the embedded MongoDB: ``record.deleted`` removes exactly the
named records of the named dataset (texts and every user's answers), nothing of another dataset."""

from datetime import UTC, datetime

from claystream_trainer.adapters.mongo_records import MongoLabelStore, MongoRecordStore
from claystream_trainer.domain.ports import DatasetKey, LabelChange, StoredRecord
from pymongo import AsyncMongoClient


async def test_deleting_records_removes_their_texts_and_answers_in_that_dataset_only(embedded_stack, unique_name):
    mongo = AsyncMongoClient(embedded_stack.ports.mongo_url)
    try:
        db = mongo[unique_name]
        records, labels = MongoRecordStore(db), MongoLabelStore(db)
        await records.ensure_indexes()
        await labels.ensure_indexes()
        mine, other = DatasetKey("acme", "reviews"), DatasetKey("acme", "tickets")
        for dataset in (mine, other):
            await records.upsert_texts(dataset, [StoredRecord(f"r{i}", f"text {i}") for i in range(3)])
            for i in range(3):
                for user in ("u1", "u2"):
                    await labels.apply(LabelChange(event_id=f"{dataset.dataset}-{i}-{user}", dataset=dataset, record_id=f"r{i}",
                                                   user_id=user, status="submitted", label="positive", version=1, at=datetime.now(UTC)))
        assert await labels.delete_for_records(mine, ["r0", "r2", "missing"]) == 4
        assert await records.delete(mine, ["r0", "r2", "missing"]) == 2
        assert await records.delete(mine, ["r0"]) == 0  # a redelivery
        assert sorted(await records.all_ids(mine)) == ["r1"]
        assert sorted(await labels.labelled(mine)) == ["r1"]
        assert sorted(await records.all_ids(other)) == ["r0", "r1", "r2"]
        assert sorted(await labels.labelled(other)) == ["r0", "r1", "r2"]
    finally:
        await mongo.aclose()
