"""An admin deletes records in annotate (``record.deleted``, one per record): the trainer forgets their
texts and every answer to them, so no later training learns from them; other records keep theirs."""

from claystream_common.events import RecordDeleted, RecordIngested, new_event
from claystream_trainer.consumers.handlers import on_records_deleted, on_records_ingested
from claystream_trainer.services.labels import record_label
from claystream_trainer.services.training_data import load_training_data

from .test_training_loop import DS, label_event, make_ports


def deleted(record_id: str, dataset=DS):  # type: ignore[no-untyped-def]
    return new_event("record.deleted", RecordDeleted(record_id=record_id, deleted_by="owner"), dataset=dataset.dataset,
                     workspace=dataset.workspace)


def ingested(record_id: str, text: str):  # type: ignore[no-untyped-def]
    return new_event("record.ingested", RecordIngested(record_id=record_id, fields={"text": text}), dataset=DS.dataset,
                     workspace=DS.workspace)


async def test_deleted_records_leave_the_training_data_and_a_relogged_record_comes_back(tmp_path):  # type: ignore[no-untyped-def]
    ports = make_ports(tmp_path)

    def nothing(dataset):  # type: ignore[no-untyped-def] - the pokes: no scheduler here
        return None

    await on_records_ingested([ingested(f"r{i}", f"text {i}") for i in range(4)], ports=ports, embed=nothing, train=nothing)
    for i, label in enumerate(["positive", "negative", "positive", "negative"]):
        await record_label(label_event(f"r{i}", label), ports=ports)
        await record_label(label_event(f"r{i}", label, user="u2"), ports=ports)
    spec = ports.specs.specs[DS]
    assert sorted((await load_training_data(DS, spec, ports=ports)).record_ids) == ["r0", "r1", "r2", "r3"]

    await on_records_deleted([deleted("r1"), deleted("r2"), deleted("never-there")], ports=ports)
    await on_records_deleted([deleted("r1")], ports=ports)  # a redelivery finds nothing left
    assert sorted((await load_training_data(DS, spec, ports=ports)).record_ids) == ["r0", "r3"]
    assert sorted(await ports.records.all_ids(DS)) == ["r0", "r3"], "no suggestions for deleted records either"
    assert sorted({record for (_, record, _) in ports.labels.answers}) == ["r0", "r3"], "both users' answers are gone"

    # the same id logged again later (after the deletion in its partition) is a new record: unlabelled
    await on_records_ingested([ingested("r1", "text again")], ports=ports, embed=nothing, train=nothing)
    assert (await ports.records.texts(DS, ["r1"])) == {"r1": "text again"}
    assert sorted((await load_training_data(DS, spec, ports=ports)).record_ids) == ["r0", "r3"]
