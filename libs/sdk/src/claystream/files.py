"""Rows from CSV / JSONL / Parquet files, each with where it came from (for helpful errors)."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FORMATS = ("csv", "jsonl", "parquet")


class FileFormatError(ValueError):
    """A problem in an input file, located as ``FILE:LINE[:COLUMN]: reason``."""


def detect_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1].lstrip(".") if suffixes else ""
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if suffix in ("csv", "parquet"):
        return suffix
    raise FileFormatError(f"{path}: cannot tell the format from the name; pass --format csv|jsonl|parquet")


def _open_text(path: Path) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def read_rows(path: Path, fmt: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number — row number for Parquet —, row) for every row."""
    fmt = fmt or detect_format(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if fmt == "jsonl":
        yield from _jsonl(path)
    elif fmt == "csv":
        yield from _csv(path)
    elif fmt == "parquet":
        yield from _parquet(path)
    else:
        raise FileFormatError(f"{path}: unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise FileFormatError(f"{path}:{number}:{error.colno}: invalid JSON: {error.msg}") from None
            except UnicodeDecodeError as error:
                raise FileFormatError(f"{path}:{number}: not UTF-8 text: {error.reason}") from None
            if not isinstance(row, dict):
                raise FileFormatError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}")
            yield number, row


def _csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise FileFormatError(f"{path}: the file is empty (expected a header line)") from None
        except (csv.Error, UnicodeDecodeError) as error:
            raise FileFormatError(f"{path}:1: cannot read the header: {error}") from None
        if len(set(header)) != len(header):
            duplicate = next(name for name in header if header.count(name) > 1)
            raise FileFormatError(f"{path}:1: column {duplicate!r} appears twice in the header")
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as error:
                raise FileFormatError(f"{path}:{start}: {error}") from None
            if values and len(values) != len(header):
                raise FileFormatError(
                    f"{path}:{start}: {len(values)} values for {len(header)} columns ({', '.join(header)})"
                )
            if values:
                yield start, dict(zip(header, values, strict=True))
            start = reader.line_num + 1


def _parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise FileFormatError(f"{path}: not a readable Parquet file: {error}") from None
    number = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield number, row
