"""Argilla-style record filters → annotate's query parameters.

``Filter(("metadata.genre", "==", "drama"), ("response.status", "==", "submitted"))`` (all must hold);
``Query(query="great film", filter=...)``.  Conditions:

* ``metadata.<name>``: ``==`` / ``in`` (terms or numbers), ``>=`` / ``<=`` (numbers)
* ``response.status``: ``==`` pending | submitted | draft | discarded (anyone's answers for admin keys)
* ``status``: ``==`` pending | completed (the record's status)
* ``suggestion.<question>.value``: ``==`` a label; ``suggestion.<question>.score``: ``>=`` / ``<=``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SORTS = {"arrival": "arrival", "-arrival": "-arrival", "score": "score", "-score": "-score",
         "inserted_at": "arrival", "suggestion.score": "score"}


class Filter:
    def __init__(self, *conditions: tuple[str, str, Any]) -> None:
        if len(conditions) == 1 and isinstance(conditions[0], list):
            conditions = tuple(conditions[0])
        self.conditions = list(conditions)

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for condition in self.conditions:
            if not (isinstance(condition, tuple | list) and len(condition) == 3):
                raise ValueError(f"{condition!r}: a condition is (field, operator, value)")
            name, op, value = condition
            params.update(_condition(str(name), str(op), value, params))
        return params


def _condition(name: str, op: str, value: Any, params: dict[str, Any]) -> dict[str, Any]:
    if name.startswith("metadata."):
        if op in ("==", "in"):
            return {name: list(value) if isinstance(value, list | tuple | set) else [value]}
        if op in (">=", "<="):
            return {f"{name}.{'min' if op == '>=' else 'max'}": value}
    elif name in ("response.status", "responses.status") and op == "==":
        return {"response_status": value}
    elif name == "status" and op == "==":
        return {"status": value}
    elif name.startswith("suggestion."):
        _, question, part = (name.split(".") + ["value"])[:3]
        if params.get("question", question) != question:
            raise ValueError("suggestion filters on one question at a time")
        if part == "value" and op == "==":
            return {"question": question, "suggested": value}
        if part == "score" and op in (">=", "<="):
            return {"question": question, "score_min" if op == ">=" else "score_max": value}
    raise ValueError(f"unsupported filter ({name!r}, {op!r}, ...): see claystream.record_filters")


@dataclass
class Query:
    query: str | None = None
    filter: Filter | None = field(default=None)

    def params(self) -> dict[str, Any]:
        params = self.filter.params() if self.filter is not None else {}
        if self.query:
            params["q"] = self.query
        return params


def query_params(query: Query | str | None, filter: Filter | None, sort: Any) -> dict[str, Any]:
    """The records endpoint's parameters for ``dataset.records(query=, filter=, sort=)``."""
    params: dict[str, Any] = {}
    if isinstance(query, Query):
        params.update(query.params())
    elif query:
        params["q"] = query
    if filter is not None:
        params.update(filter.params())
    if sort is not None:
        if isinstance(sort, tuple | list):
            key, order = sort[0], (sort[1] if len(sort) > 1 else "asc")
            base = SORTS.get(str(key))
            if base is None:
                raise ValueError(f"sort {key!r}: one of {sorted(SORTS)}")
            params["sort"] = f"-{base.lstrip('-')}" if str(order).lower() == "desc" else base.lstrip("-")
        else:
            if str(sort) not in SORTS:
                raise ValueError(f"sort {sort!r}: one of {sorted(SORTS)}")
            params["sort"] = SORTS[str(sort)]
    return params


def filter_body(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters → the JSON ``filter`` object of annotate's POST endpoints (delete, similar)."""
    body = {key: value for key, value in params.items() if not key.startswith("metadata.") and key != "sort"}
    metadata = {key.removeprefix("metadata."): value for key, value in params.items() if key.startswith("metadata.")}
    if any(key.endswith((".min", ".max")) for key in metadata):
        raise ValueError("metadata ranges are not supported in this filter, use == / in")
    if metadata:
        body["metadata"] = metadata
    return body
