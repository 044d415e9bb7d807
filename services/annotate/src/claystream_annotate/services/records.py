"""Record search for the bulk view and the API: text, metadata, status, suggestion filters,
sorting and cursor pagination (a page cap keeps every page cheap)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from claystream_annotate.services.errors import Invalid, NotFound
from claystream_annotate.services.ports import Counters, RecordStore, ResponseDoc, ResponseStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.responses import public_response
from claystream_common.datasets import DatasetSpec

RESPONSE_STATUSES = ("pending", "submitted", "draft", "discarded")
SORTS = ("arrival", "-arrival", "score", "-score")


@dataclass
class RecordQuery:
    q: str | None = None
    response_status: str | None = None
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


def build_query(spec: DatasetSpec, params: RecordQuery, user_id: str) -> tuple[dict[str, Any], list[tuple[str, int]], str]:
    """MongoDB filter, sort and the sorted-by field for ``params`` (validated)."""
    query: dict[str, Any] = {"dataset_id": spec.id}
    clauses: list[dict[str, Any]] = []
    if params.q:
        pattern = re.escape(params.q.strip()[:200])
        query["$or"] = [{f"fields.{f.name}": {"$regex": pattern, "$options": "i"}} for f in spec.fields]
    if params.response_status is not None:
        if params.response_status not in RESPONSE_STATUSES:
            raise Invalid("response_status", f"one of {list(RESPONSE_STATUSES)}")
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
    score_bounds = {k: v for k, v in (("$gte", params.score_min), ("$lte", params.score_max)) if v is not None}
    if score_bounds:
        query[f"suggestions.{question}.score"] = score_bounds
    if params.sort not in SORTS:
        raise Invalid("sort", f"one of {list(SORTS)}")
    direction = -1 if params.sort.startswith("-") else 1
    sort_field = "seq" if params.sort.endswith("arrival") else f"suggestions.{question}.score"
    sort = [(sort_field, direction)] if sort_field == "seq" else [(sort_field, direction), ("seq", 1)]
    if params.after:
        value, seq = _decode_cursor(params.after)
        op = "$gt" if direction == 1 else "$lt"
        if sort_field == "seq":
            clauses.append({"seq": {op: seq}})
        else:
            clauses.append({"$or": [{sort_field: {op: value}}, {sort_field: value, "seq": {"$gt": seq}}]})
    if clauses:
        query = {"$and": [query, *clauses]}
    return query, sort, sort_field


def _lookup(document: dict[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def public_record(document: dict[str, Any], responses: list[ResponseDoc]) -> dict[str, Any]:
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
    }


async def attach_responses(
    documents: list[dict[str, Any]], *, actor: Principal, spec: DatasetSpec, responses: ResponseStore
) -> list[dict[str, Any]]:
    """Records in the public shape with their responses (annotators see only their own)."""
    found = await responses.for_records([d["_id"] for d in documents])
    see_all = actor.role.at_least(Role.ADMIN)
    grouped: dict[str, list[ResponseDoc]] = {}
    for response in found:
        if see_all or response.user_id == actor.user_id:
            grouped.setdefault(response.record_id, []).append(response)
    return [public_record(d, grouped.get(d["_id"], [])) for d in documents]


async def search_records(
    params: RecordQuery,
    *,
    actor: Principal,
    spec: DatasetSpec,
    records: RecordStore,
    responses: ResponseStore,
    counters: Counters,
    page_max: int = 200,
) -> RecordPage:
    actor.require(spec.workspace, Role.ANNOTATOR)
    if not 1 <= params.limit <= page_max:
        raise Invalid("limit", f"between 1 and {page_max}")
    query, sort, sort_field = build_query(spec, params, actor.user_id)
    documents = await records.find(query, sort=sort, limit=params.limit + 1)
    has_more = len(documents) > params.limit
    documents = documents[: params.limit]
    next_after = None
    if has_more and documents:
        last = documents[-1]
        next_after = _encode_cursor([_lookup(last, sort_field), last["seq"]])
    total: int | None = None
    unfiltered = set(query) == {"dataset_id"}
    if unfiltered:
        total = (await counters.read([spec.id])).get(spec.id, {}).get("records")
    elif params.count:
        total = await records.count(query)
    return RecordPage(items=await attach_responses(documents, actor=actor, spec=spec, responses=responses), next_after=next_after, total=total)


async def get_record(
    record_id: str, *, actor: Principal, spec: DatasetSpec, records: RecordStore, responses: ResponseStore
) -> dict[str, Any]:
    actor.require(spec.workspace, Role.ANNOTATOR)
    document = await records.get(record_id)
    if document is None or document.get("dataset_id") != spec.id:
        raise NotFound(f"record {record_id} not found in dataset {spec.name}")
    return (await attach_responses([document], actor=actor, spec=spec, responses=responses))[0]
