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
