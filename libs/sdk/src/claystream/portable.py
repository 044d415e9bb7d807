"""Datasets to and from local folders; reading local sources (HF ``datasets`` folders, CSV, JSONL, Parquet)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claystream.settings import Settings

if TYPE_CHECKING:
    from claystream.resources import Dataset, Datasets

RECORD_KEYS = ("external_id", "fields", "metadata", "suggestions", "vectors")


def dataset_to_disk(dataset: Dataset, path: str | Path) -> None:
    """``settings.json`` and ``records.jsonl`` (fields, metadata, suggestions, vectors and every
    response with its user), written one page at a time."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    body = {"name": dataset.name, "workspace": dataset.workspace, **dataset.settings.to_body()}
    (folder / "settings.json").write_text(json.dumps(body, indent=2))
    with (folder / "records.jsonl").open("w", encoding="utf-8") as handle:
        for item in dataset.records(with_vectors=bool(dataset.settings.vectors)):
            record = {key: item.get(key) for key in RECORD_KEYS if item.get(key)}
            record["id"] = item.get("id")
            record["suggestions"] = [{k: s.get(k) for k in ("question", "value", "score", "agent")}
                                     for s in item.get("suggestions") or []]
            record["responses"] = [{"user": r.get("user_id"), "status": r.get("status"), "values": r.get("values")}
                                   for r in item.get("responses") or []]
            handle.write(json.dumps(record, default=str) + "\n")


def _records_from(folder: Path) -> Iterator[dict[str, Any]]:
    with (folder / "records.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                record.setdefault("external_id", record.pop("id", None))
                record.pop("id", None)
                yield record


def dataset_from_disk(datasets: Datasets, path: str | Path, *, name: str | None, workspace: str | None) -> Dataset:
    folder = Path(path)
    body = json.loads((folder / "settings.json").read_text())
    dataset = datasets.create(name or body["name"], workspace, settings=Settings.from_body(body))
    try:
        dataset.records.log(_records_from(folder))
    except BaseException:  # all or nothing: a failed import leaves no half-filled dataset under the name
        dataset.delete()
        raise
    return dataset


def read_source(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a HF ``datasets`` folder (``save_to_disk``), or a CSV / JSONL / Parquet file."""
    source = Path(path)
    if source.is_dir():
        from datasets import load_from_disk

        loaded = load_from_disk(str(source))
        if hasattr(loaded, "keys") and not hasattr(loaded, "features"):  # a DatasetDict: its only / train split
            loaded = loaded["train"] if "train" in loaded else loaded[next(iter(loaded.keys()))]
        return iter(loaded)
    from claystream.files import read_rows

    return (row for _, row in read_rows(source))
