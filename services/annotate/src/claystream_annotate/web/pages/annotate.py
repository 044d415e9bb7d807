"""The annotation view: one record, its questions, progress and training state.

Every action (submit, draft, discard, previous/next) answers with
``partials/annotation.html``: the record (main swap target) plus the questions and the
progress out of band — the same partials the full page includes.  Moving between records
keeps two short trails (``back`` / ``forward`` record ids) in the links themselves.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from claystream_common.datasets import DatasetSpec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from claystream_annotate.services.datasets import get_dataset, render_guidelines
from claystream_annotate.services.errors import Invalid, NotFound
from claystream_annotate.services.ports import ResponseDoc
from claystream_annotate.services.principals import Principal
from claystream_annotate.services.queue import next_record
from claystream_annotate.services.responses import answer_and_next, response_id, save_response
from claystream_annotate.web.rendering import is_htmx, render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser
from claystream_annotate.web.views import (
    field_views,
    join_trail,
    metadata_items,
    parse_trail,
    question_views,
    training_view,
    values_from_form,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
STATUSES = ("submitted", "draft", "discarded")


def dataset_url(spec: DatasetSpec, suffix: str = "") -> str:
    return f"/datasets/{spec.workspace}/{spec.name}{suffix}"


async def load_spec(request: Request, principal: Principal, workspace: str, dataset: str) -> DatasetSpec:
    return await get_dataset(actor=principal, workspace=workspace, name=dataset, datasets=request.app.state.deps.datasets)


async def progress_for(request: Request, spec: DatasetSpec, principal: Principal) -> dict[str, Any]:
    counts = (await request.app.state.deps.counters.read([spec.id])).get(spec.id, {})
    return {
        "records": counts.get("records", 0),
        "completed": counts.get("completed", 0),
        "mine": counts.get(f"submitted:{principal.user_id}"),  # None until the counter exists
    }


async def training_for(request: Request, spec: DatasetSpec) -> dict[str, Any]:
    events = await request.app.state.deps.model_events.recent(spec.workspace, spec.name, limit=20)
    return training_view(events)


async def record_in(request: Request, spec: DatasetSpec, record_id: str) -> dict[str, Any]:
    record = await request.app.state.deps.records.get(record_id)
    if record is None or record.get("dataset_id") != spec.id:
        raise NotFound(f"record {record_id} not found in dataset {spec.name}")
    return record


async def annotation_context(
    request: Request,
    principal: Principal,
    spec: DatasetSpec,
    record: dict[str, Any] | None,
    *,
    back: list[str],
    forward: list[str],
    answer: dict[str, Any] | None = None,
    error: str | None = None,
    queued: bool = False,
) -> dict[str, Any]:
    """``queued``: the record was just handed out by the queue, which never hands out one the user answered
    (drafts included), so there is no answer of theirs to look up."""
    deps = request.app.state.deps

    async def my_answer() -> ResponseDoc | None:
        if record is None or queued:
            return None
        return await deps.responses.get(response_id(record["_id"], principal.user_id))

    mine, progress = await asyncio.gather(my_answer(), progress_for(request, spec, principal))
    if answer is None and mine is not None and mine.values:
        answer = mine.values
    return {
        "spec": spec,
        "tab": "annotate",
        "record": record,
        "fields": field_views(spec, record) if record else [],
        "metadata": metadata_items(record) if record else [],
        "my_status": mine.status if mine else None,
        "questions": question_views(spec, record, answer) if record else [],
        "back": join_trail(back),
        "forward": join_trail(forward),
        "progress": progress,
        "error": error,
        "vector_field": deps.vectors.default_field(spec),
    }


def location(spec: DatasetSpec, record: dict[str, Any] | None, back: list[str], forward: list[str], *, queued: bool) -> str:
    """The URL that shows this state again (the queue page for a fresh record, else the record)."""
    if record is None or queued:
        return dataset_url(spec)
    query = urlencode({k: v for k, v in (("back", join_trail(back)), ("forward", join_trail(forward))) if v})
    return dataset_url(spec, f"/records/{record['_id']}") + (f"?{query}" if query else "")


async def queue_record(request: Request, principal: Principal, spec: DatasetSpec) -> dict[str, Any] | None:
    deps = request.app.state.deps
    return await next_record(
        actor=principal,
        spec=spec,
        records=deps.records,
        responses=deps.responses,
        queue=deps.queue,
        lease_ttl_s=deps.settings.lease_ttl_s,
        scan=deps.settings.queue_scan,
    )


async def show(
    request: Request, principal: Principal, spec: DatasetSpec, record: dict[str, Any] | None, back: list[str], forward: list[str], *, queued: bool
) -> Response:
    context = await annotation_context(request, principal, spec, record, back=back, forward=forward, queued=queued)
    if is_htmx(request):
        headers = {"HX-Replace-Url": location(spec, record, back, forward, queued=queued)}
        return render(request, "annotate/partials/annotation.html", principal, headers=headers, **context)
    context["guidelines_html"] = render_guidelines(spec.guidelines) if spec.guidelines else ""
    context["training"] = await training_for(request, spec)
    return render(request, "annotate/annotate.html", principal, **context)


@router.get("/datasets/{workspace}/{dataset}")
async def annotate_page(request: Request, principal: WebUser, workspace: str, dataset: str, back: str = "") -> Response:
    spec = await load_spec(request, principal, workspace, dataset)
    record = await queue_record(request, principal, spec)
    return await show(request, principal, spec, record, parse_trail(back), [], queued=True)


@router.get("/datasets/{workspace}/{dataset}/records/{record_id}")
async def record_page(
    request: Request, principal: WebUser, workspace: str, dataset: str, record_id: str, back: str = "", forward: str = ""
) -> Response:
    spec = await load_spec(request, principal, workspace, dataset)
    record = await record_in(request, spec, record_id)
    return await show(request, principal, spec, record, parse_trail(back), parse_trail(forward), queued=False)


@router.post("/datasets/{workspace}/{dataset}/records/{record_id}/response")
async def answer(request: Request, principal: WebUser, workspace: str, dataset: str, record_id: str) -> Response:
    """Submit / save a draft / discard, then show the next record (forward trail first, else the queue)."""
    deps = request.app.state.deps
    spec = await load_spec(request, principal, workspace, dataset)
    form = await request.form()
    status = str(form.get("status") or "submitted")
    back, forward = parse_trail(str(form.get("back") or "")), parse_trail(str(form.get("forward") or ""))
    if status not in STATUSES:
        raise Invalid("status", f"must be one of {list(STATUSES)}")
    following: dict[str, Any] | None = None
    try:
        values = values_from_form(spec, form)
        stores = {"records": deps.records, "responses": deps.responses, "queue": deps.queue, "relay": deps.relay}
        if forward:
            await save_response(actor=principal, spec=spec, record_id=record_id, status=status, values=values, **stores)
        else:  # back to the queue: the answer and the next claim share a round trip
            _, following = await answer_and_next(
                actor=principal, spec=spec, record_id=record_id, status=status, values=values, **stores,
                lease_ttl_s=deps.settings.lease_ttl_s, scan=deps.settings.queue_scan,
            )
    except Invalid as error:
        record = await record_in(request, spec, record_id)
        context = await annotation_context(
            request, principal, spec, record, back=back, forward=forward, answer=values_from_form_safe(spec, form), error=str(error)
        )
        headers = {"HX-Retarget": "#questions", "HX-Reswap": "outerHTML"}
        return render(request, "annotate/partials/questions.html", principal, status_code=422, headers=headers, **context)
    new_back = [record_id, *back]
    while forward:  # the answer is saved: a record of the trail deleted meanwhile is skipped, never an error page
        try:
            following = await record_in(request, spec, forward[0])
        except NotFound:
            forward = forward[1:]
            continue
        return await show(request, principal, spec, following, new_back, forward[1:], queued=False)
    if following is None and form.get("forward"):  # the whole trail is gone: on with the queue
        following = await queue_record(request, principal, spec)
    return await show(request, principal, spec, following, new_back, [], queued=True)


def values_from_form_safe(spec: DatasetSpec, form: Any) -> dict[str, Any]:
    try:
        return values_from_form(spec, form)
    except Invalid:
        return {}


@router.get("/datasets/{workspace}/{dataset}/progress")
async def progress_fragment(request: Request, principal: WebUser, workspace: str, dataset: str) -> Response:
    spec = await load_spec(request, principal, workspace, dataset)
    progress = await progress_for(request, spec, principal)
    return render(request, "annotate/partials/progress.html", principal, spec=spec, progress=progress)


@router.get("/datasets/{workspace}/{dataset}/training")
async def training_fragment(request: Request, principal: WebUser, workspace: str, dataset: str) -> Response:
    spec = await load_spec(request, principal, workspace, dataset)
    return render(request, "annotate/partials/training.html", principal, spec=spec, training=await training_for(request, spec))
