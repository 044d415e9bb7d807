"""Change records after they were logged: replace metadata / suggestions, delete by id or by filter.

Every item is checked before anything is written; a bad item raises :class:`InvalidItems` naming
its index, field and reason, and nothing stored changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from claystream_common.datasets import DatasetSpec
from claystream_common.events import RecordDeleted, new_event
from claystream_common.metadata import InvalidMetadata, metadata_value, undeclared_problem
from claystream_common.ports import EventPublisher

from claystream_annotate.services.bulk import matching_ids
from claystream_annotate.services.errors import Invalid, InvalidItems
from claystream_annotate.services.ports import Counters, QueueStore, RecordStore, ResponseStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.records import RecordQuery
from claystream_annotate.services.response_scope import resolve_scope
from claystream_annotate.services.validation import validate_values


class VectorRemoval(Protocol):
    def removed(self, dataset_id: str, record_ids: Sequence[str]) -> None: ...


CHANGE_MAX = 1000
DELETE_MAX = 10_000


def _metadata(spec: DatasetSpec, metadata: Any, index: int, errors: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        errors.append({"index": index, "field": "metadata", "reason": "must be an object of name → value"})
        return {}
    stored = dict(metadata)
    for name, value in metadata.items():
        prop = spec.metadata_property(name)
        if prop is None:  # undeclared: kept as given, if MongoDB can store it
            problem = undeclared_problem(str(name), value)
            if problem is not None:
                declared = ", ".join(p.name for p in spec.metadata_properties) or "none declared"
                errors.append({"index": index, "field": f"metadata.{name}", "reason": problem.format(declared=declared)})
            continue
        try:
            stored[name] = metadata_value(prop.type, value, prop.values)
        except InvalidMetadata as error:
            errors.append({"index": index, "field": f"metadata.{name}", "reason": error.reason})
    return {name: value for name, value in stored.items() if value is not None}  # no value: left out, as ingest does


def _suggestions(spec: DatasetSpec, suggestions: Any, record: dict[str, Any], index: int,
                 errors: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(suggestions, list):
        errors.append({"index": index, "field": "suggestions", "reason": "must be a list of {question, value, score, agent}"})
        return {}
    out: dict[str, Any] = {}
    for position, suggestion in enumerate(suggestions):
        where = f"suggestions.{position}"
        if not isinstance(suggestion, dict) or not isinstance(suggestion.get("question"), str):
            errors.append({"index": index, "field": where, "reason": "needs a question name and a value"})
            continue
        question = suggestion["question"]
        try:
            value = validate_values(spec, {question: suggestion.get("value")}, "draft", record=record).get(question)
        except Invalid as error:
            errors.append({"index": index, "field": f"suggestions.{question}", "reason": error.reason})
            continue
        score = suggestion.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1):
            errors.append({"index": index, "field": f"suggestions.{question}.score", "reason": "must be a number from 0 to 1"})
            continue
        labels = [key for key in ("agent", "model_version") if suggestion.get(key) is not None and not isinstance(suggestion[key], str)]
        for key in labels:
            errors.append({"index": index, "field": f"suggestions.{question}.{key}", "reason": "must be a string"})
        if labels:
            continue
        out[question] = {"value": value, "score": score, "agent": suggestion.get("agent"),
                         "model_version": suggestion.get("model_version")}
    return out


async def update_records(
    items: Sequence[dict[str, Any]], *, actor: Principal, spec: DatasetSpec, records: RecordStore
) -> int:
    """Replace ``metadata`` and/or ``suggestions`` of records (``{"id", "metadata"?, "suggestions"?}``).
    Admins only.  Returns how many records changed."""
    actor.require(spec.workspace, Role.ADMIN)
    if not 1 <= len(items) <= CHANGE_MAX:
        raise Invalid("items", f"between 1 and {CHANGE_MAX} records per request")
    ids = [item.get("id") for item in items]
    found = {d["_id"]: d for d in await records.get_many([i for i in ids if isinstance(i, str)]) if d.get("dataset_id") == spec.id}
    errors: list[dict[str, Any]] = []
    changes: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(items):
        record_id = item.get("id")
        if record_id not in found:
            errors.append({"index": index, "field": "id", "reason": f"no record {record_id} in dataset {spec.name}"})
            continue
        values: dict[str, Any] = {}
        if item.get("metadata") is not None:
            values["metadata"] = _metadata(spec, item["metadata"], index, errors)
        if item.get("suggestions") is not None:
            values["suggestions"] = _suggestions(spec, item["suggestions"], found[record_id], index, errors)
        if not values:
            errors.append({"index": index, "field": "metadata", "reason": "give metadata and/or suggestions to replace"})
        changes.append((str(record_id), values))
    if errors:
        raise InvalidItems(errors)
    return await records.set_many(changes)


async def delete_records(
    *,
    actor: Principal,
    spec: DatasetSpec,
    record_ids: Sequence[str] | None,
    query: RecordQuery | None,
    records: RecordStore,
    responses: ResponseStore,
    queue: QueueStore,
    counters: Counters,
    publisher: EventPublisher,
    vectors: VectorRemoval | None = None,
) -> int:
    """Delete records (by id, or every record matching a filter) with their responses; the queue and
    the counters follow.  Admins only.  Returns how many were deleted.

    A ``record.deleted`` per record goes out first (the trainer forgets its text and labels): if publishing
    fails nothing is deleted and the caller can retry; if a deletion step fails after it, the retry finds
    the records still there and publishes again (the consumers are idempotent)."""
    actor.require(spec.workspace, Role.ADMIN)
    if (record_ids is None) == (query is None):
        raise Invalid("ids", "give exactly one of ids or filter")
    if record_ids is not None:
        if len(record_ids) > DELETE_MAX:
            raise Invalid("ids", f"at most {DELETE_MAX} records per request")
        ids = list(dict.fromkeys(record_ids))
    else:
        assert query is not None
        query.response_scope = resolve_scope(actor, spec.workspace, query.response_scope)
        ids = await matching_ids(query, spec=spec, user_id=actor.user_id, records=records, cap=DELETE_MAX)
    deleted = 0
    for start in range(0, len(ids), CHANGE_MAX):
        documents = [d for d in await records.get_many(ids[start:start + CHANGE_MAX]) if d.get("dataset_id") == spec.id]
        chunk = [d["_id"] for d in documents]
        if not chunk:
            continue
        gone = [new_event("record.deleted", RecordDeleted(record_id=record_id, deleted_by=actor.username), dataset=spec.name,
                          workspace=spec.workspace) for record_id in chunk]
        await publisher.publish_many(gone, keys=chunk)
        await responses.delete_for_records(chunk)
        removed = await records.delete_many(chunk)
        await queue.remove(spec.id, chunk)
        if vectors is not None:
            vectors.removed(spec.id, chunk)  # the in-service similarity index
        await counters.incr(spec.id, "records", -removed)
        await counters.incr(spec.id, "completed", -sum(1 for d in documents if d.get("status") == "completed"))
        deleted += removed
    return deleted
