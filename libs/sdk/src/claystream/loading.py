"""Annotate's records API → a flat ``datasets.Dataset``.

Columns: ``id``, ``external_id``, ``status``, one column per field, ``metadata.<name>``, and per
question ``<q>.responses`` (submitted values), ``<q>.responses.users``, ``<q>.suggestion``,
``<q>.suggestion.score``, ``<q>.suggestion.agent``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

Fetch = Callable[[str, dict[str, Any]], Any]


def load_records(
    fetch: Fetch,
    *,
    workspace: str,
    dataset: str,
    response_status: str | None = None,
    query: str | None = None,
    limit: int | None = None,
    page_size: int,
) -> list[dict[str, Any]]:
    """Every page of ``GET /api/v1/workspaces/{workspace}/datasets/{dataset}/records``."""
    params: dict[str, Any] = {}
    if response_status:
        params["response_status"] = response_status
    if query:
        params["q"] = query
    return list(iter_records(fetch, workspace=workspace, dataset=dataset, params=params, limit=limit, page_size=page_size))


def records_path(workspace: str, dataset: str) -> str:
    return f"/api/v1/workspaces/{quote(workspace, safe='')}/datasets/{quote(dataset, safe='')}/records"


def iter_records(
    fetch: Fetch, *, workspace: str, dataset: str, params: dict[str, Any], page_size: int, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Records one page at a time along the server's cursor (``next_after``); a short or empty page
    with a cursor (a filter evaluated within a scan budget) continues from there."""
    path = records_path(workspace, dataset)
    seen = 0
    after: str | None = None
    while True:
        want = page_size if limit is None else min(page_size, limit - seen)
        if want <= 0:
            return
        page = fetch(path, {**params, "limit": want, **({"after": after} if after else {})})
        items = page.get("items") or []
        seen += len(items)
        yield from items
        after = page.get("next_after")
        if not after:
            return


def flatten_record(item: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": item.get("id"),
        "external_id": item.get("external_id"),
        "status": item.get("status"),
    }
    for name, value in (item.get("fields") or {}).items():
        row[name] = value
    for name, value in (item.get("metadata") or {}).items():
        row[f"metadata.{name}"] = value
    for response in item.get("responses") or []:
        if response.get("status") != "submitted":
            continue
        for question, value in (response.get("values") or {}).items():
            row.setdefault(f"{question}.responses", []).append(value)
            row.setdefault(f"{question}.responses.users", []).append(str(response.get("user_id")))
    for suggestion in item.get("suggestions") or []:
        question = suggestion.get("question")
        row[f"{question}.suggestion"] = suggestion.get("value")
        row[f"{question}.suggestion.score"] = suggestion.get("score")
        row[f"{question}.suggestion.agent"] = suggestion.get("agent")
    return row


def records_to_dataset(items: list[dict[str, Any]]) -> Any:
    from datasets import Dataset

    rows = [flatten_record(item) for item in items]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    for row in rows:  # same columns everywhere; missing answers are empty lists / None
        for column in columns:
            if column not in row:
                row[column] = [] if column.endswith((".responses", ".responses.users")) else None
    if not rows:
        return Dataset.from_dict({"id": [], "external_id": [], "status": []})
    return Dataset.from_list(rows)
