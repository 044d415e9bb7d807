"""Record search for the bulk view and the API: text, metadata, status, suggestion filters,
sorting and cursor pagination (a page cap keeps every page cheap)."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

from claystream_common.datasets import DatasetSpec
from claystream_common.metadata import INT64
from claystream_common.questions import first_question

from claystream_annotate.services.errors import Invalid, NotFound
from claystream_annotate.services.ports import Counters, RecordStore, ResponseDoc, ResponseStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.response_scope import RESPONSE_STATUSES, record_matches, resolve_scope
from claystream_annotate.services.responses import public_response

SORTS = ("arrival", "-arrival", "score", "-score")
TEXT_SCAN_BUDGET = 5_000  # records a text search may look at per request (issue 17 finding 9)
TEXT_CHUNK = 1000
TEXT_QUERY_MAX = 200  # characters of a text search
# what a search checked in Python (text, anyone's response status) reads while scanning: enough to match and
# to page, never vectors or suggestions
SEARCH_PROJECTION = {"_id": 1, "seq": 1, "fields": 1, "dataset_id": 1, "user_status": 1}
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
    if not isinstance(decoded, list) or len(decoded) not in (2, 3) or (len(decoded) == 3 and not isinstance(decoded[2], list)):
        raise Invalid("after", "malformed cursor")
    # the values go into the query as they are: a sort key (a number or null) and a seq, never an operator object
    key, seq = decoded[0], decoded[1]
    if not (key is None or _storable_number(key)) or not (_storable_number(seq) and isinstance(seq, int)):
        raise Invalid("after", "malformed cursor")
    return decoded


def _storable_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) if isinstance(value, float) else INT64[0] <= value <= INT64[1]


def _question(spec: DatasetSpec, name: str | None) -> str:
    if name is None:
        return (first_question(spec, lambda kind: kind.chooses_labels) or spec.questions[0]).name
    if spec.question(name) is None:
        raise Invalid("question", f"unknown question {name}")
    return name


@dataclass
class BuiltQuery:
    """A MongoDB filter that stays index-friendly on nx-27017 (one flat document, no ``$and``/``$or``),
    its sort, and what is checked in Python: the text search and the cursor's ties.

    ``after`` is (sort value, seq, ids already served at exactly that value and seq): ``seq`` is not
    unique across annotate replicas, so a page continues *at* the cursor's key and skips those
    ids, which makes the order total without a compound range (nx-27017 runs ``$or`` in Python)."""

    mongo: dict[str, Any]
    sort: list[tuple[str, int]]
    sort_field: str
    direction: int
    text: str | None
    after: tuple[Any, int, frozenset[str]] | None
    # the MongoDB reads of a page, in order: (filter, sort, seq direction when it walks one sort
    # value by seq, so it can continue at a seq; None when it cannot)
    phases: list[tuple[dict[str, Any], list[tuple[str, int]], int | None]] = field(default_factory=list)
    any_status: str | None = None  # response status by anyone, checked in Python

    @property
    def in_python(self) -> bool:
        return self.text is not None or self.any_status is not None

    def accepts(self, spec: DatasetSpec, document: dict[str, Any]) -> bool:
        if self.text is not None and not matches_text(spec, document, self.text):
            return False
        return self.any_status is None or record_matches(document, self.any_status)


def checked_query(spec: DatasetSpec, params: RecordQuery, actor: Principal) -> BuiltQuery:
    """The query, or Invalid naming the parameter: what a search checks, for a caller (the bulk view) that must
    refuse a bad filter before it writes anything."""
    if params.q is not None and len(params.q) > TEXT_QUERY_MAX:
        raise Invalid("q", f"at most {TEXT_QUERY_MAX} characters")
    params.response_scope = resolve_scope(actor, spec.workspace, params.response_scope)
    return build_query(spec, params, actor.user_id)


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
    after: tuple[Any, int, frozenset[str]] | None = None
    if params.after:
        value, seq, *served = _decode_cursor(params.after)
        try:
            after = (value, int(seq), frozenset(str(i) for i in (served[0] if served else [])))
        except (TypeError, ValueError):
            raise Invalid("after", "malformed cursor") from None
    if score_bounds:
        query[score_field] = score_bounds
    text = params.q.strip().lower()[:200] if params.q and params.q.strip() else None
    built = BuiltQuery(mongo=query, sort=sort, sort_field=sort_field, direction=direction, text=text, after=after,
                       any_status=any_status)
    built.phases = _phases(built, score_bounds)
    return built


def _phases(built: BuiltQuery, score_bounds: dict[str, Any]) -> list[tuple[dict[str, Any], list[tuple[str, int]], int | None]]:
    """Flat reads only: by arrival, from the cursor's seq on; by score, the rest of the cursor's
    score (by seq), then the scores strictly after it, then (descending) the unscored records."""
    query, field_name, direction = built.mongo, built.sort_field, built.direction
    if field_name == "seq":
        bound = {"seq": {"$gte" if direction == 1 else "$lte": built.after[1]}} if built.after else {}
        return [({**query, **bound}, built.sort, direction)]
    if built.after is None:
        return [(query, built.sort, None)]
    value, seq, _ = built.after
    by_seq = [("seq", 1)]
    phases = [({**query, field_name: value, "seq": {"$gte": seq}}, by_seq, 1)]
    if direction == 1:
        phases.append(({**query, field_name: {**score_bounds, "$gt": value} if value is not None else {"$type": "number"}}, built.sort, None))
    elif value is not None:
        phases.append(({**query, field_name: {**score_bounds, "$lt": value}}, built.sort, None))
        if not score_bounds:
            phases.append(({**query, field_name: None}, by_seq, 1))
    return phases


def _after_cursor(built: BuiltQuery, document: dict[str, Any]) -> bool:
    if built.after is None:
        return True
    value, seq, served = built.after
    return _lookup(document, built.sort_field) != value or document["seq"] != seq or document["_id"] not in served


def _key(built: BuiltQuery, document: dict[str, Any]) -> tuple[Any, int]:
    return _lookup(document, built.sort_field), document["seq"]


def _cursor_at(built: BuiltQuery, tail: dict[str, Any], served: list[dict[str, Any]]) -> str:
    """The cursor after ``tail``: its key, and every id already served at exactly that key."""
    key = _key(built, tail)
    ids = {d["_id"] for d in served if _key(built, d) == key}
    if built.after is not None and built.after[:2] == key:
        ids |= built.after[2]
    return _encode_cursor([key[0], key[1], sorted(ids)])


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
    see_all = actor.is_admin_of(spec.workspace)
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
    built = checked_query(spec, params, actor)
    if built.in_python:  # scan a projection, load the page's records in full after
        projection: dict[str, int] | None = {**SEARCH_PROJECTION, built.sort_field: 1}
    else:
        projection = None if params.include_vectors else WITHOUT_VECTORS
    found: list[dict[str, Any]] = []
    scanned = 0
    last: dict[str, Any] | None = None
    exhausted = True
    plain = not built.in_python and built.after is None
    chunk = params.limit + 1 if plain else max(2 * params.limit + 1, min(TEXT_CHUNK, text_scan_budget) if built.in_python else 0)
    scanned_docs: list[dict[str, Any]] = []
    for phase_query, phase_sort, seq_direction in built.phases:
        query = dict(phase_query)
        while True:
            limit = chunk + (len(built.after[2]) if built.after is not None else 0)
            page = await records.find(query, sort=phase_sort, limit=limit, projection=projection)
            for document in page:
                if not _after_cursor(built, document):
                    continue
                scanned += 1
                last = document
                scanned_docs.append(document)
                if built.accepts(spec, document):
                    found.append(document)
                    if len(found) > params.limit:
                        break
            if len(found) > params.limit or len(page) < limit:
                break
            if seq_direction is None or scanned >= text_scan_budget:
                exhausted = False
                break
            tail = page[-1]  # continue at the tail's seq (same sort value), skipping what was read there
            key = _key(built, tail)
            served = {d["_id"] for d in page if _key(built, d) == key}
            if built.after is not None and built.after[:2] == key:
                served |= built.after[2]
            built.after = (key[0], key[1], frozenset(served))
            query["seq"] = {"$gte" if seq_direction == 1 else "$lte": key[1]}
        if len(found) > params.limit or not exhausted:
            break
    has_more = len(found) > params.limit
    documents = found[: params.limit]
    if built.in_python and documents:  # the scan read a projection: load the page's records in full
        full = {d["_id"]: d for d in await records.get_many([d["_id"] for d in documents])}
        documents = [full[d["_id"]] for d in documents if d["_id"] in full]
    next_after = None
    if has_more:
        next_after = _cursor_at(built, documents[-1], documents)
    elif not exhausted and last is not None:
        next_after = _cursor_at(built, last, scanned_docs)
    total: int | None = None
    if set(built.mongo) == {"dataset_id"} and not built.in_python:  # unfiltered (any page)
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
