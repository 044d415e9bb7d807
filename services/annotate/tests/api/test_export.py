from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
from annotate_testing import BASE, Annotate

URL = f"{BASE}/default/datasets/reviews"


async def test_export_formats(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, ["first, with comma", "second\nline"])
    await annotate.owner.put(f"{URL}/records/{ids[0]}/response", json={"values": {"sentiment": "pos"}})
    jsonl = await annotate.owner.get(f"{URL}/export", params={"format": "jsonl"})
    assert jsonl.status_code == 200 and "attachment" in jsonl.headers["content-disposition"]
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [r["id"] for r in rows] == ids and rows[0]["responses"][0]["values"] == {"sentiment": "pos"}
    csv_text = (await annotate.owner.get(f"{URL}/export", params={"format": "csv"})).text
    assert csv_text.splitlines()[0].startswith("id,external_id,status,field.text") and '"first, with comma"' in csv_text
    parquet = await annotate.owner.get(f"{URL}/export", params={"format": "parquet"})
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 2 and table.column("response.sentiment").to_pylist() == ["pos", ""]
    assert (await annotate.owner.get(f"{URL}/export", params={"format": "xml"})).status_code == 422
    annotator = await annotate.member("exp")
    assert (await annotator.get(f"{URL}/export")).status_code == 403


async def test_csv_and_parquet_neutralise_formulas(annotate: Annotate) -> None:
    """Issue 17 finding 8: cells a spreadsheet would run stay text (leading apostrophe)."""
    dataset = await annotate.dataset()
    payloads = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "plain = text"]
    ids = await annotate.records(dataset, payloads)
    await annotate.owner.put(f"{URL}/records/{ids[0]}/response", json={"values": {"sentiment": "pos"}})
    csv_text = (await annotate.owner.get(f"{URL}/export", params={"format": "csv"})).text
    import csv as csv_module

    rows = list(csv_module.DictReader(io.StringIO(csv_text, newline="")))
    assert [r["field.text"] for r in rows] == ["'" + p for p in payloads[:-1]] + ["plain = text"]
    parquet = await annotate.owner.get(f"{URL}/export", params={"format": "parquet"})
    column = pq.read_table(io.BytesIO(parquet.content)).column("field.text").to_pylist()
    assert column == ["'" + p for p in payloads[:-1]] + ["plain = text"]
    jsonl = await annotate.owner.get(f"{URL}/export", params={"format": "jsonl"})
    assert json.loads(jsonl.text.splitlines()[0])["fields"]["text"] == payloads[0]  # JSONL keeps the data as stored


async def test_export_streams_page_by_page_with_each_page_s_responses(annotate: Annotate, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 17 finding 9: responses are read per page of records (not all held), and still all attached."""
    from claystream_annotate.services import export

    monkeypatch.setattr(export, "PAGE", 2)
    dataset = await annotate.dataset()
    ids = await annotate.records(dataset, [f"text {i}" for i in range(5)])
    for record_id in ids:
        assert (await annotate.owner.put(f"{URL}/records/{record_id}/response", json={"values": {"sentiment": "neg"}})).status_code == 200
    seen = []
    original = annotate.deps.responses.for_records

    async def counting(record_ids):  # type: ignore[no-untyped-def]
        seen.append(len(record_ids))
        return await original(record_ids)

    monkeypatch.setattr(annotate.deps.responses, "for_records", counting)
    rows = [json.loads(line) for line in (await annotate.owner.get(f"{URL}/export")).text.splitlines()]
    assert [r["id"] for r in rows] == ids and all(r["responses"][0]["values"] == {"sentiment": "neg"} for r in rows)
    assert seen == [2, 2, 1], seen


async def test_parquet_columns_carry_the_declared_types(annotate: Annotate) -> None:
    """Every Parquet column was text: a data frame read from it held the year "2001" and the score "0.9"."""
    import uuid

    from claystream_annotate.consumers.handlers import on_records_ingested
    from claystream_common.events import RecordIngested, RecordSuggestion, new_event

    properties = [{"name": "genre", "type": "terms"}, {"name": "year", "type": "integer"}, {"name": "rating", "type": "float"}]
    dataset = await annotate.dataset(metadata_properties=properties)
    data = [RecordIngested(record_id=uuid.uuid4().hex, fields={"text": "a"}, metadata={"genre": "-drama", "year": 2001, "rating": -0.5},
                           suggestions=[RecordSuggestion(question="sentiment", value="pos", score=0.9)]),
            RecordIngested(record_id=uuid.uuid4().hex, fields={"text": "b"}, metadata={"year": 1999})]
    await on_records_ingested([new_event("record.ingested", d, dataset="reviews", workspace="default") for d in data],
                              records=annotate.deps.records, datasets=annotate.deps.datasets, queue=annotate.deps.queue,
                              counters=annotate.deps.counters)
    table = pq.read_table(io.BytesIO((await annotate.owner.get(f"{URL}/export", params={"format": "parquet"})).content))
    types = {name: str(table.schema.field(name).type) for name in table.column_names}
    assert types["metadata.year"] == "int64" and types["metadata.rating"] == "double", types
    assert types["suggestion.sentiment.score"] == "double" and types["metadata.genre"] == types["field.text"] == "string"
    assert table.column("metadata.year").to_pylist() == [2001, 1999]
    assert table.column("metadata.rating").to_pylist() == [-0.5, None]
    assert table.column("suggestion.sentiment.score").to_pylist() == [0.9, None]
    assert table.column("metadata.genre").to_pylist() == ["'-drama", None]  # text stays neutralised, as in the CSV
    csv_text = (await annotate.owner.get(f"{URL}/export", params={"format": "csv"})).text
    assert "'-drama,2001,-0.5" in csv_text, csv_text  # numbers are not text: a negative one is no formula
