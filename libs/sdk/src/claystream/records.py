"""Turn what people have (dicts, pandas DataFrames, datasets.Dataset) into ingest records."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

RECORD_KEYS = ("external_id", "fields", "metadata", "suggestions", "vectors", "origin")
ColumnMap = Mapping[str, str] | Sequence[str] | None


def rows_of(records: Any) -> tuple[Iterable[Mapping[str, Any]], int | None]:
    """(rows, length if known) for a list of dicts, a pandas DataFrame or a datasets.Dataset."""
    if hasattr(records, "to_dict") and hasattr(records, "columns") and hasattr(records, "iloc"):  # pandas
        return (row for row in records.to_dict(orient="records")), len(records)
    if hasattr(records, "features") and hasattr(records, "column_names"):  # datasets.Dataset
        return iter(records), len(records)
    if isinstance(records, Mapping):
        return [records], 1
    try:
        length = len(records)
    except TypeError:
        length = None
    return records, length


def _mapping(columns: ColumnMap) -> dict[str, str] | None:
    if columns is None:
        return None
    if isinstance(columns, Mapping):
        return dict(columns)
    return {name: name for name in columns}


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class RecordMapper:
    """How flat rows become records.

    ``fields``: dataset field → column (or a list of columns named like the fields); default: every
    column that is not the id, a metadata column or a record key.  ``metadata`` likewise.  The
    external id comes from ``external_id`` or ``id_column`` (default ``id``).  Rows that already have a
    ``fields`` object are sent as they are.
    """

    def __init__(self, fields: ColumnMap = None, metadata: ColumnMap = None, id_column: str | None = "id") -> None:
        self.field_map = _mapping(fields)
        self.metadata_map = _mapping(metadata) or {}
        self.id_column = id_column
        self._taken = {"external_id", id_column, *RECORD_KEYS, *self.metadata_map.values()}

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        given = row.get("fields")
        if given is not None and isinstance(given, dict | Mapping):
            record = {key: row[key] for key in RECORD_KEYS if row.get(key) is not None}
            if "external_id" in record:
                record["external_id"] = str(record["external_id"])
            return record
        external_id = row.get("external_id")
        if external_id is None and self.id_column:
            external_id = row.get(self.id_column)
        field_map = self.field_map
        if field_map is None:
            field_map = {column: column for column in row if column not in self._taken}
        fields = {}
        for name, column in field_map.items():
            value = row.get(column)
            fields[name] = value if value.__class__ is str else _clean(value)
        record: dict[str, Any] = {"fields": fields}
        if external_id is not None:
            if external_id.__class__ is not str:
                external_id = _clean(external_id)
            if external_id is not None:
                record["external_id"] = str(external_id)
        if self.metadata_map or row.get("metadata"):
            metadata = dict(row.get("metadata") or {})
            for name, column in self.metadata_map.items():
                value = _clean(row.get(column))
                if value is not None:
                    metadata[name] = value
            if metadata:
                record["metadata"] = metadata
        for key in ("suggestions", "vectors"):
            if row.get(key) is not None:
                record[key] = row[key]
        return record


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def sized_batches(items: Iterable[Any], size: int, max_bytes: int) -> Iterator[list[Any]]:
    """Batches of at most ``size`` items whose JSON stays under ``max_bytes`` (the server's body limit)."""
    from claystream._http import dumps

    batch: list[Any] = []
    used = 0
    for item in items:
        length = len(dumps(item)) + 1
        if batch and (len(batch) >= size or used + length > max_bytes):
            yield batch
            batch, used = [], 0
        batch.append(item)
        used += length
    if batch:
        yield batch
