"""Datasets: create / read / list / update / delete, guidelines rendered safely, progress."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import nh3
from claystream_common.datasets import DatasetSpec
from claystream_common.events import DatasetDeleted, new_event
from claystream_common.ports import EventPublisher
from claystream_common.questions import question_type
from markdown_it import MarkdownIt
from pydantic import ValidationError

from claystream_annotate.services.errors import Conflict, Invalid, NotFound
from claystream_annotate.services.ports import Counters, DatasetStore, QueueStore, RecordStore, ResponseStore, WorkspaceStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.vector_index import VectorIndex

IMMUTABLE = frozenset({"id", "workspace", "name"})


class ModelEventStore(Protocol):
    async def delete_dataset(self, workspace: str, dataset: str) -> int: ...


def invalid_from(error: ValidationError, prefix: str = "") -> Invalid:
    """The first pydantic error as Invalid(field, reason)."""
    item = error.errors()[0]
    loc = ".".join(str(part) for part in item.get("loc", ())) or "body"
    return Invalid(f"{prefix}{loc}", item.get("msg", "invalid"))


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(markdown: str) -> str:
    """Markdown → HTML with raw HTML disabled (tags stay visible as text), then sanitised by nh3 (no scripts,
    no event handlers, no ``javascript:`` links).  Guidelines and fields with ``use_markdown``."""
    html = _markdown().render(markdown or "")
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")


def render_guidelines(markdown: str) -> str:
    return render_markdown(markdown)


def _spec(document: dict[str, Any]) -> DatasetSpec:
    return DatasetSpec.from_document(document)


async def create_dataset(
    body: dict[str, Any], *, actor: Principal, workspace: str, datasets: DatasetStore, counters: Counters, queue: QueueStore,
    workspaces: WorkspaceStore | None = None,
) -> DatasetSpec:
    """``workspaces``: the workspace is made to exist (for the owner and the service token, who may name a new one),
    so no dataset is ever stored under a workspace that is not listed."""
    actor.require(workspace, Role.ADMIN)
    _refuse_unknown_settings(body)
    data = {key: value for key, value in body.items() if key not in ("id", "workspace")}
    try:
        spec = DatasetSpec.model_validate({**data, "id": uuid.uuid4().hex, "workspace": workspace})
    except ValidationError as error:
        raise invalid_from(error) from None
    _refuse_settings_problem(spec)
    if await datasets.get(workspace, spec.name) is not None:
        raise Conflict(f"dataset {spec.name} exists already in workspace {workspace}")
    if workspaces is not None:
        await workspaces.create(workspace)  # a no-op when it exists
    now = datetime.now(UTC)
    document = spec.model_dump(mode="json", exclude={"id"}) | {"_id": spec.id, "created_at": now, "updated_at": now}
    await datasets.insert(document)
    # empty, so its Redis state is complete now: never rebuilt from MongoDB while its records arrive
    await counters.start(spec.id)
    await queue.mark_built(spec.id)
    return spec


async def get_dataset(*, actor: Principal, workspace: str, name: str, datasets: DatasetStore) -> DatasetSpec:
    """The dataset, or NotFound (also when the workspace is not the caller's)."""
    actor.require(workspace, Role.ANNOTATOR)
    document = await datasets.get(workspace, name)
    if document is None:
        raise NotFound(f"dataset {name} not found in workspace {workspace}")
    return _spec(document)


async def list_datasets(*, actor: Principal, workspace: str | None, datasets: DatasetStore) -> list[DatasetSpec]:
    """Datasets of one workspace (or of every workspace the caller sees when ``workspace`` is None)."""
    if workspace is not None:
        actor.require(workspace, Role.ANNOTATOR)
        scope: list[str] | None = [workspace]
    else:
        scope = None if actor.workspaces is None else sorted(actor.workspaces)
    return [_spec(document) for document in await datasets.list(scope)]


def _refuse_unknown_settings(body: dict[str, Any]) -> None:
    unknown = DatasetSpec.unknown_settings(body)
    if unknown:
        known = sorted(set(DatasetSpec.model_fields) - {"id", "workspace"})
        raise Invalid(unknown[0], f"unknown setting; a dataset has {known}")


def _refuse_settings_problem(spec: DatasetSpec, before: DatasetSpec | None = None) -> None:
    problem = spec.settings_problem(before)
    if problem is not None:
        raise Invalid(*problem)


def _existing(current: dict[str, Any], setting: str, new: Sequence[Any]) -> Iterator[tuple[int, Any, dict[str, Any]]]:
    """(index, new item, stored item) for each item of a named list setting the dataset had already."""
    before = {item["name"]: item for item in current.get(setting) or []}
    for index, item in enumerate(new):
        if item.name in before:
            yield index, item, before[item.name]


def _keep_what_answers_were_given_to(current: dict[str, Any], spec: DatasetSpec) -> None:
    """Answers and suggestions are stored under a question's name: an existing question keeps its type (and the
    field its spans point into), keeps its labels (new ones may be added where a type allows it: not to a ranking, whose
    answers name every option) and never lowers ``rating_max``, so
    nothing already stored falls outside it.  To ask something else, add a new question."""
    for index, question, old in _existing(current, "questions", spec.questions):
        where = f"questions.{index}"
        if old["type"] != question.type or (old.get("field") or None) != question.field:
            what = "type" if old["type"] != question.type else "field"
            raise Invalid(f"{where}.{what}", f"cannot change ({question.name} is a {old['type']} question"
                                            f"{' on field ' + str(old.get('field')) if old.get('field') else ''}); add a new question instead")
        dropped = [label for label in old.get("labels") or [] if label not in question.labels]
        if dropped:
            raise Invalid(f"{where}.labels", f"cannot drop {dropped}: answers may use them (labels can be added)")
        added = [label for label in question.labels if label not in (old.get("labels") or [])]
        if added and not question_type(question).labels_may_grow:
            raise Invalid(f"{where}.labels", f"cannot add {added}: an answer to a {question.type} question names every "
                                             "label, so the stored ones would fall short; add a new question instead")
        if (question.rating_max or 0) < (old.get("rating_max") or 0):
            raise Invalid(f"{where}.rating_max", f"cannot go below {old['rating_max']}: answers may use it")


def _keep_what_metadata_was_stored_as(current: dict[str, Any], spec: DatasetSpec) -> None:
    """Records hold each metadata value in its property's type (checked when they arrived): an existing property keeps
    its type, and a terms property given a list of allowed terms keeps every term it allowed, so no stored value falls
    outside its property (filters, the bulk view and typed exports read them as declared).  To store something else,
    add a new property."""
    for index, prop, old in _existing(current, "metadata_properties", spec.metadata_properties):
        where = f"metadata_properties.{index}"
        if old["type"] != prop.type:
            raise Invalid(f"{where}.type", f"cannot change (records hold {prop.name} as {old['type']} values); "
                                           "add a new property instead")
        if prop.values is not None:
            dropped = sorted(set(old.get("values") or []) - set(prop.values)) if old.get("values") is not None else None
            if dropped is None:
                raise Invalid(f"{where}.values", "cannot restrict a property that allowed any term: records may hold others")
            if dropped:
                raise Invalid(f"{where}.values", f"cannot drop {dropped}: records may hold them (terms can be added)")


async def update_dataset(
    changes: dict[str, Any], *, actor: Principal, workspace: str, name: str, datasets: DatasetStore
) -> DatasetSpec:
    actor.require(workspace, Role.ADMIN)
    document = await datasets.get(workspace, name, fresh=True)  # a cached copy (2 s, per replica) lost edits
    if document is None:
        raise NotFound(f"dataset {name} not found in workspace {workspace}")
    _refuse_unknown_settings(changes)
    for key in changes:
        if key in IMMUTABLE:
            raise Invalid(key, "cannot be changed")
    current = _spec(document).model_dump(mode="json")
    try:
        spec = DatasetSpec.model_validate({**current, **changes})
    except ValidationError as error:
        raise invalid_from(error) from None
    _keep_what_answers_were_given_to(current, spec)
    _keep_what_metadata_was_stored_as(current, spec)
    _refuse_settings_problem(spec, _spec(document))
    before = {v["name"]: v["dimensions"] for v in current.get("vectors") or []}
    for index, field in enumerate(spec.vectors):  # stored vectors have that size: add fields, never resize one
        if field.name in before and before[field.name] != field.dimensions:
            raise Invalid(f"vectors.{index}.dimensions", f"cannot change ({field.name} has {before[field.name]}); "
                                                         "add a new vector field instead")
    replacement = spec.model_dump(mode="json", exclude={"id"}) | {
        "_id": spec.id,
        "created_at": document.get("created_at"),
        "updated_at": datetime.now(UTC),
    }
    replacement["revision"] = (document.get("revision") or 0) + 1
    if not await datasets.replace(replacement, expected_revision=document.get("revision")):
        # another edit landed between this read and this write: writing the whole document would undo it
        raise Conflict(f"dataset {name} was changed by someone else meanwhile; reload it and apply the change again")
    return spec


async def delete_dataset(
    *,
    actor: Principal,
    workspace: str,
    name: str,
    datasets: DatasetStore,
    records: RecordStore,
    responses: ResponseStore,
    queue: QueueStore,
    counters: Counters,
    publisher: EventPublisher,
    vectors: VectorIndex | None = None,
    model_events: ModelEventStore | None = None,
) -> None:
    """Delete the dataset with its records, responses, queue and counters, after telling the other
    services (``dataset.deleted``: the trainer and the monitor drop what they hold of it).

    The event goes first: if publishing fails nothing is deleted and the caller can retry; if a
    deletion step fails after it, retrying publishes again (the handlers are idempotent)."""
    actor.require(workspace, Role.ADMIN)
    document = await datasets.get(workspace, name)
    if document is None:
        raise NotFound(f"dataset {name} not found in workspace {workspace}")
    dataset_id = str(document["_id"])
    event = new_event("dataset.deleted", DatasetDeleted(dataset_id=dataset_id, deleted_by=actor.username),
                      workspace=workspace, dataset=name)
    await publisher.publish_many([event], keys=[f"{workspace}/{name}"])
    await datasets.delete(dataset_id)
    await records.delete_dataset(dataset_id)
    await responses.delete_dataset(dataset_id)
    await queue.drop(dataset_id)
    await counters.drop(dataset_id)
    if vectors is not None:
        await vectors.drop(dataset_id)
    if model_events is not None:  # its training history: a new dataset of the same name starts without it
        await model_events.delete_dataset(workspace, name)


async def dataset_progress(specs: list[DatasetSpec], *, counters: Counters) -> dict[str, dict[str, int]]:
    """``{dataset_id: {"records": n, "completed": n}}`` from the counters (no Mongo count)."""
    values = await counters.read([spec.id for spec in specs])
    return {spec.id: {"records": values.get(spec.id, {}).get("records", 0), "completed": values.get(spec.id, {}).get("completed", 0)} for spec in specs}
