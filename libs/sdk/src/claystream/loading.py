"""Annotate's records API, page by page (the flat rows and their columns: :mod:`claystream.flat`)."""

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
