"""Export a dataset with its responses as JSONL, CSV or Parquet, streamed page by page.

Records are walked in arrival order along the ``(dataset_id, seq)`` index, a page at a time, and each
page's responses are read for that page only: memory holds one page, whatever the dataset's size.

CSV and Parquet cells are spreadsheet input: a text cell starting with ``= + - @``, a tab or a carriage
return gets a leading apostrophe, so a record such as ``=HYPERLINK(...)`` stays text (OWASP "CSV
injection").  JSONL is written as stored.

Parquet columns are typed: integer metadata ``int64``, float metadata and suggestion scores ``float64``, the rest
text (the same cells as the CSV), so a data frame read from it needs no casts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import orjson
from claystream_common.datasets import DatasetSpec
from claystream_common.metadata import InvalidMetadata, metadata_value
from claystream_common.questions import question_type

from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.ports import RecordStore, ResponseDoc, ResponseStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.records import public_record
from claystream_annotate.services.response_scope import RESPONSE_STATUSES, any_status_matches

FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
PAGE = 2000
RECORD_PROJECTION = {"_id": 1, "seq": 1, "external_id": 1, "fields": 1, "metadata": 1, "suggestions": 1, "priority": 1, "status": 1}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


async def _rows(
    spec: DatasetSpec, *, records: RecordStore, responses: ResponseStore, response_status: str | None = None
) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of public records, each page with its own responses; ``response_status`` keeps those with an
    answer of that status by anyone (``pending``: nobody answered)."""
    async for page in records.scan({"dataset_id": spec.id}, batch_size=PAGE, projection=RECORD_PROJECTION):
        by_record: dict[str, list[ResponseDoc]] = {}
        for response in await responses.for_records([document["_id"] for document in page]):
            if response.dataset_id == spec.id:
                by_record.setdefault(response.record_id, []).append(response)
        rows = [public_record(document, by_record.get(document["_id"], [])) for document in page]
        if response_status is not None:
            rows = [row for row in rows if any_status_matches((r["status"] for r in row["responses"]), response_status)]
        if rows:
            yield [_exported(spec, row) for row in rows]


def _exported(spec: DatasetSpec, row: dict[str, Any]) -> dict[str, Any]:
    """Values as each question type exports them (spans: offsets plus the covered text)."""
    fields = row["fields"]

    def export(name: str, value: Any) -> Any:
        question = spec.question(name)
        if question is None or value is None:
            return value
        return question_type(question).export_value(question, value, fields)

    for response in row["responses"]:
        response["values"] = {name: export(name, value) for name, value in (response.get("values") or {}).items()}
    for suggestion in row["suggestions"]:
        suggestion["value"] = export(suggestion["question"], suggestion.get("value"))
    return row


def _json_default(value: Any) -> Any:
    return str(value)


async def _jsonl(rows: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    async for page in rows:
        yield b"".join(orjson.dumps(row, default=_json_default) + b"\n" for row in page)


def _flat(spec: DatasetSpec, row: dict[str, Any]) -> list[Any]:
    suggestions = {s["question"]: s for s in row["suggestions"]}
    submitted = [r for r in row["responses"] if r["status"] == "submitted"]
    out: list[Any] = [row["id"], row["external_id"], row["status"]]
    out += [row["fields"].get(f.name) for f in spec.fields]
    out += [row["metadata"].get(m.name) for m in spec.metadata_properties]
    for question in spec.questions:
        suggestion = suggestions.get(question.name, {})
        cell = question_type(question).cell
        out += [cell(question, suggestion.get("value")), suggestion.get("score")]
        out.append("|".join(sorted({cell(question, r["values"].get(question.name)) for r in submitted if question.name in r["values"]})))
    out.append(orjson.dumps(row["responses"], default=_json_default).decode())
    return out


def csv_header(spec: DatasetSpec) -> list[str]:
    header = ["id", "external_id", "status"] + [f"field.{f.name}" for f in spec.fields]
    header += [f"metadata.{m.name}" for m in spec.metadata_properties]
    for question in spec.questions:
        header += [f"suggestion.{question.name}", f"suggestion.{question.name}.score", f"response.{question.name}"]
    return header + ["responses_json"]


async def _csv(spec: DatasetSpec, rows: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_header(spec))
    async for page in rows:
        writer.writerows([neutralised(value) for value in _flat(spec, row)] for row in page)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def parquet_columns(spec: DatasetSpec) -> list[tuple[str, str]]:
    """(column, kind) in ``csv_header`` order; kind is ``text``, ``score`` or a metadata type."""
    kinds = ["text"] * (3 + len(spec.fields)) + [m.type for m in spec.metadata_properties]
    for _ in spec.questions:
        kinds += ["text", "score", "text"]
    return list(zip(csv_header(spec), kinds + ["text"], strict=True))


def _typed(kind: str, value: Any) -> Any:
    """A cell in its column's type.  Metadata were checked against their property when they arrived (and a property
    keeps its type), so a value that does not fit cannot come from this API: it is written as null, not guessed."""
    if value is None:
        return None
    if kind == "text":
        return neutralised(value if isinstance(value, str) else str(value))
    if kind == "score":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    try:
        stored = metadata_value(kind, value)
    except InvalidMetadata:
        return None
    return neutralised(stored) if kind == "terms" else stored


async def _parquet(spec: DatasetSpec, rows: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_types = {"text": pa.string(), "terms": pa.string(), "integer": pa.int64(), "float": pa.float64(),
                   "score": pa.float64()}
    columns = parquet_columns(spec)
    schema = pa.schema([(name, arrow_types[kind]) for name, kind in columns])
    sink = io.BytesIO()
    writer = pq.ParquetWriter(sink, schema)
    try:
        async for page in rows:
            cells = list(zip(*(_flat(spec, row) for row in page), strict=True))
            arrays = [pa.array([_typed(kind, value) for value in column], arrow_types[kind])
                      for (_, kind), column in zip(columns, cells, strict=True)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            if sink.tell():
                yield sink.getvalue()
                sink.seek(0)
                sink.truncate()
    finally:
        writer.close()
    yield sink.getvalue()


def export_stream(
    fmt: str, *, actor: Principal, spec: DatasetSpec, records: RecordStore, responses: ResponseStore,
    response_status: str | None = None,
) -> tuple[AsyncIterator[bytes], str]:
    """(byte chunks, media type).  Admins and owners only."""
    actor.require(spec.workspace, Role.ADMIN)
    if fmt not in FORMATS:
        raise Invalid("format", f"one of {sorted(FORMATS)}")
    if response_status is not None and response_status not in RESPONSE_STATUSES:
        raise Invalid("response_status", f"one of {list(RESPONSE_STATUSES)}")
    rows = _rows(spec, records=records, responses=responses, response_status=response_status)
    if fmt == "jsonl":
        return _jsonl(rows), FORMATS[fmt]
    if fmt == "csv":
        return _csv(spec, rows), FORMATS[fmt]
    return _parquet(spec, rows), FORMATS[fmt]
