"""Record search for the bulk view and the API: text, metadata, status, suggestion filters,
sorting and cursor pagination (a page cap keeps every page cheap)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from claystream_common.datasets import DatasetSpec

from claystream_annotate.services.errors import Invalid, NotFound
from claystream_annotate.services.ports import Counters, RecordStore, ResponseDoc, ResponseStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.response_scope import RESPONSE_STATUSES, record_matches, resolve_scope
from claystream_annotate.services.responses import public_response

SORTS = ("arrival", "-arrival", "score", "-score")
TEXT_SCAN_BUDGET = 20_000
TEXT_CHUNK = 2000
WITHOUT_VECTORS = {"vectors": 0}


@dataclass
class RecordQuery:
    q: str | None = None
    response_status: str | None = None
    response_scope: str | None = None  # mine | any (see response_scope.py); None: the caller's default
    status: str | None = None
    metadata: dict[str, list[str]] = field(default_factory=dict)
    metadata_ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    suggested: str | None = None
    question: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    sort: str = "arrival"
    limit: int = 50
    after: str | None = None
    count: bool = False
    include_vectors: bool = False  # the records' vectors in the answer (heavy: off by default)


@dataclass
class RecordPage:
    items: list[dict[str, Any]]
    next_after: str | None
    total: int | None


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(value: str) -> list[Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise Invalid("after", "malformed cursor") from None
    if not isinstance(decoded, list) or len(decoded) != 2:
        raise Invalid("after", "malformed cursor")
    return decoded


def _question(spec: DatasetSpec, name: str | None) -> str:
    if name is None:
        label_questions = [q for q in spec.questions if q.type in ("label", "multi_label")]
        return (label_questions or spec.questions)[0].name
    if spec.question(name) is None:
        raise Invalid("question", f"unknown question {name}")
    return name


@dataclass
class BuiltQuery:
    """A MongoDB filter that stays index-friendly on nx-27017 (one flat document, no ``$and``/``$or``),
    its sort, and what is checked in Python: the text search and the cursor's ties."""

    mongo: dict[str, Any]
    sort: list[tuple[str, int]]
    sort_field: str
    direction: int
    text: str | None
    after: tuple[Any, int] | None
    any_status: str | None = None  # response status by anyone, checked in Python

    @property
    def in_python(self) -> bool:
        return self.text is not None or self.any_status is not None

    def accepts(self, spec: DatasetSpec, document: dict[str, Any]) -> bool:
        if self.text is not None and not matches_text(spec, document, self.text):
            return False
        return self.any_status is None or record_matches(document, self.any_status)


def build_query(spec: DatasetSpec, params: RecordQuery, user_id: str) -> BuiltQuery:
    """Validate ``params`` (Invalid names the parameter) and build the query.  ``response_scope``
    must be resolved already (``any`` or anything else meaning the caller's own)."""
    query: dict[str, Any] = {"dataset_id": spec.id}
    any_status: str | None = None
    if params.response_status is not None:
        if params.response_status not in RESPONSE_STATUSES:
            raise Invalid("response_status", f"one of {list(RESPONSE_STATUSES)}")
        if params.response_scope == "any":
            any_status = params.response_status
        else:
            key = f"user_status.{user_id}"
            query[key] = {"$exists": False} if params.response_status == "pending" else params.response_status
    if params.status is not None:
        if params.status not in ("pending", "completed"):
            raise Invalid("status", "one of ['pending', 'completed']")
        query["status"] = params.status
    for name, values in params.metadata.items():
        prop = spec.metadata_property(name)
        if prop is None:
            raise Invalid(f"metadata.{name}", "unknown metadata property")
        if prop.type != "terms":
            try:
                converted: list[Any] = [float(v) for v in values]
            except ValueError:
                raise Invalid(f"metadata.{name}", "must be numbers") from None
        else:
            converted = list(values)
        query[f"metadata.{name}"] = {"$in": converted}
    for name, (low, high) in params.metadata_ranges.items():
        prop = spec.metadata_property(name)
        if prop is None or prop.type == "terms":
            raise Invalid(f"metadata.{name}", "ranges need a numeric metadata property")
        bounds = {k: v for k, v in (("$gte", low), ("$lte", high)) if v is not None}
        if bounds:
            query[f"metadata.{name}"] = bounds
    question = _question(spec, params.question)
    if params.suggested is not None:
        query[f"suggestions.{question}.value"] = params.suggested
    score_field = f"suggestions.{question}.score"
    score_bounds = {k: v for k, v in (("$gte", params.score_min), ("$lte", params.score_max)) if v is not None}
    if params.sort not in SORTS:
        raise Invalid("sort", f"one of {list(SORTS)}")
    direction = -1 if params.sort.startswith("-") else 1
    sort_field = "seq" if params.sort.endswith("arrival") else score_field
    sort = [(sort_field, direction)] if sort_field == "seq" else [(sort_field, direction), ("seq", 1)]
    after: tuple[Any, int] | None = None
    if params.after:
        value, seq = _decode_cursor(params.after)
        after = (value, int(seq))
        if sort_field == "seq":
            query["seq"] = {"$gt" if direction == 1 else "$lt": after[1]}
        elif value is not None:
            # ties on the score are resolved in Python (see _after_cursor)
            score_bounds["$gte" if direction == 1 else "$lte"] = value
    if score_bounds:
        query[score_field] = score_bounds
    text = params.q.strip().lower()[:200] if params.q and params.q.strip() else None
    return BuiltQuery(mongo=query, sort=sort, sort_field=sort_field, direction=direction, text=text, after=after,
                      any_status=any_status)


def _after_cursor(built: BuiltQuery, document: dict[str, Any]) -> bool:
    if built.after is None or built.sort_field == "seq":
        return True
    value, seq = built.after
    current = _lookup(document, built.sort_field)
    return current != value or document["seq"] > seq


def matches_text(spec: DatasetSpec, document: dict[str, Any], text: str) -> bool:
    fields = document.get("fields") or {}
    return any(text in str(fields.get(f.name, "")).lower() for f in spec.fields)


def _lookup(document: dict[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def public_record(document: dict[str, Any], responses: list[ResponseDoc], *, with_vectors: bool = False) -> dict[str, Any]:
    suggestions = [
        {"question": question, **{k: s.get(k) for k in ("value", "score", "agent", "model_version")}}
        for question, s in (document.get("suggestions") or {}).items()
    ]
    return {
        "id": document["_id"],
        "external_id": document.get("external_id"),
        "fields": document.get("fields", {}),
        "metadata": document.get("metadata", {}),
        "suggestions": suggestions,
        "responses": [public_response(r) for r in responses],
        "priority": document.get("priority"),
        "status": document.get("status", "pending"),
        **({"vectors": document.get("vectors") or {}} if with_vectors else {}),
    }


async def attach_responses(
    documents: list[dict[str, Any]], *, actor: Principal, spec: DatasetSpec, responses: ResponseStore,
    with_vectors: bool = False,
) -> list[dict[str, Any]]:
    """Records in the public shape with their responses (annotators see only their own)."""
    found = await responses.for_records([d["_id"] for d in documents])
    see_all = actor.role.at_least(Role.ADMIN)
    grouped: dict[str, list[ResponseDoc]] = {}
    for response in found:
        if see_all or response.user_id == actor.user_id:
            grouped.setdefault(response.record_id, []).append(response)
    return [public_record(d, grouped.get(d["_id"], []), with_vectors=with_vectors) for d in documents]


async def search_records(
    params: RecordQuery,
    *,
    actor: Principal,
    spec: DatasetSpec,
    records: RecordStore,
    responses: ResponseStore,
    counters: Counters,
    page_max: int = 200,
    text_scan_budget: int = TEXT_SCAN_BUDGET,
) -> RecordPage:
    """One page of records.  Text search walks the index in chunks and matches in Python, at most
    ``text_scan_budget`` records per request: a page may come back short with a ``next_after``
    to continue from (the bulk view shows "search further")."""
    actor.require(spec.workspace, Role.ANNOTATOR)
    if not 1 <= params.limit <= page_max:
        raise Invalid("limit", f"between 1 and {page_max}")
    params.response_scope = resolve_scope(actor, spec.workspace, params.response_scope)
    built = build_query(spec, params, actor.user_id)
    found: list[dict[str, Any]] = []
    scanned = 0
    last: dict[str, Any] | None = None
    exhausted = False
    plain = not built.in_python and built.after is None
    chunk = params.limit + 1 if plain else max(2 * params.limit + 1, TEXT_CHUNK if built.in_python else 0)
    query = dict(built.mongo)
    while True:
        page = await records.find(query, sort=built.sort, limit=chunk, projection=None if params.include_vectors else WITHOUT_VECTORS)
        for document in page:
            if not _after_cursor(built, document):
                continue
            scanned += 1
            last = document
            if built.accepts(spec, document):
                found.append(document)
                if len(found) > params.limit:
                    break
        if len(found) > params.limit:
            break
        if len(page) < chunk:
            exhausted = True
            break
        if built.sort_field != "seq" or scanned >= text_scan_budget:
            break
        query["seq"] = {"$gt" if built.direction == 1 else "$lt": page[-1]["seq"]}
    has_more = len(found) > params.limit
    documents = found[: params.limit]
    next_after = None
    if has_more:
        tail = documents[-1]
        next_after = _encode_cursor([_lookup(tail, built.sort_field), tail["seq"]])
    elif not exhausted and last is not None:
        next_after = _encode_cursor([_lookup(last, built.sort_field), last["seq"]])
    total: int | None = None
    if set(built.mongo) - {"seq"} == {"dataset_id"} and not built.in_python:  # unfiltered (any page)
        total = (await counters.read([spec.id])).get(spec.id, {}).get("records")
    elif params.count and not built.in_python:
        total = await records.count(built.mongo)
    items = await attach_responses(documents, actor=actor, spec=spec, responses=responses, with_vectors=params.include_vectors)
    return RecordPage(items=items, next_after=next_after, total=total)


async def get_record(
    record_id: str, *, actor: Principal, spec: DatasetSpec, records: RecordStore, responses: ResponseStore
) -> dict[str, Any]:
    actor.require(spec.workspace, Role.ANNOTATOR)
    document = await records.get(record_id)
    if document is None or document.get("dataset_id") != spec.id:
        raise NotFound(f"record {record_id} not found in dataset {spec.name}")
    return (await attach_responses([document], actor=actor, spec=spec, responses=responses))[0]
