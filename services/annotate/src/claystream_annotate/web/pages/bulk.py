"""The bulk view: search and filter records, select many, apply one label of any label or
multi-label question to them all.

"All matching the filter" first answers with a confirmation showing the count (a dry run);
only the confirmed second request writes.
"""

from __future__ import annotations

from typing import Any

from claystream_common.datasets import DatasetSpec, QuestionSpec
from claystream_common.questions import InvalidValue, question_type
from fastapi import APIRouter, Request
from fastapi.responses import Response

from claystream_annotate.services.bulk import bulk_apply
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.principals import Principal
from claystream_annotate.services.records import checked_query, search_records
from claystream_annotate.web.filters import filter_values, label_question, query_string, record_query
from claystream_annotate.web.pages.annotate import load_spec
from claystream_annotate.web.pages.similar import similar_items
from claystream_annotate.web.rendering import is_htmx, render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.views import markdown_html
from claystream_annotate.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)
SIMILAR_PAGE = 50


def truncate_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def row_view(item: dict[str, Any], spec: DatasetSpec, user_id: str, question: str | None) -> dict[str, Any]:
    text_field = spec.fields[0].name
    text = (item.get("fields") or {}).get(text_field, "")
    suggestion = next((s for s in item.get("suggestions", []) if s.get("question") == question), None)
    mine = next((r for r in item.get("responses", []) if r.get("user_id") == user_id), None)
    return {
        "id": item["id"],
        "text": text,
        "html": markdown_html(truncate_text(str(text), 400)) if spec.fields[0].use_markdown else None,
        "suggestion": suggestion,
        "my_status": mine["status"] if mine else None,
        "my_value": (mine.get("values") or {}).get(question) if mine and question else None,
        "status": item.get("status"),
        "metadata": list((item.get("metadata") or {}).items())[:3],
        "responses": len(item.get("responses", [])),
    }


async def results_context(request: Request, principal: Principal, spec: DatasetSpec, params: Any) -> dict[str, Any]:
    deps = request.app.state.deps
    query = record_query(spec, params)
    similar_to = str(params.get("similar_to") or "").strip()
    if similar_to:  # ranked by similarity to one record, the filters still apply (one page, best first)
        return await similar_context(request, principal, spec, params, query, similar_to)
    page = await search_records(
        query, actor=principal, spec=spec, records=deps.records, responses=deps.responses, counters=deps.counters, page_max=deps.settings.page_max
    )
    values = filter_values(spec, params)
    question = label_question(spec)
    return {
        "spec": spec,
        "rows": [row_view(item, spec, principal.user_id, question.name if question else None) for item in page.items],
        "total": page.total,
        "next_url": f"/datasets/{spec.workspace}/{spec.name}/records?{query_string(values, after=page.next_after)}" if page.next_after else None,
        "first_url": f"/datasets/{spec.workspace}/{spec.name}/records?{query_string(values)}" if query.after else None,
        "filters": values,
        "question": question,
        "bulk_questions": bulk_questions(spec),
        "similar": None,
        "vector_field": deps.vectors.default_field(spec),
    }


async def similar_context(request: Request, principal: Principal, spec: DatasetSpec, params: Any, query: Any,
                          similar_to: str) -> dict[str, Any]:
    query.after = None
    field, items = await similar_items(request, principal, spec, similar_to, str(params.get("vector_field") or "") or None,
                                       k=SIMILAR_PAGE, query=query)
    values = filter_values(spec, params) | {"vector_field": field}
    question = label_question(spec)
    rows = [row_view(item, spec, principal.user_id, question.name if question else None) | {"similarity": item["score"]}
            for item in items]
    return {"spec": spec, "rows": rows, "total": None, "next_url": None, "first_url": None, "filters": values,
            "question": question, "bulk_questions": bulk_questions(spec),
            "similar": {"record_id": similar_to, "vector_field": field}, "vector_field": field}


def bulk_questions(spec: DatasetSpec) -> list[QuestionSpec]:
    """Every question the bulk bar can apply (those answered by choosing labels)."""
    return [q for q in spec.questions if question_type(q).chooses_labels]


def bulk_target(spec: DatasetSpec, form: Any) -> tuple[QuestionSpec, str]:
    """``target=<question>=<label>`` (the bulk bar), else ``question`` + ``label`` (default: the first
    label question)."""
    target = str(form.get("target") or "")
    if target:
        name, _, label = target.partition("=")
    else:
        name, label = str(form.get("question") or ""), str(form.get("label") or "")
    candidates = bulk_questions(spec)
    if not candidates:
        raise Invalid("question", "this dataset has no label question to apply in bulk")
    question = next((q for q in candidates if q.name == name), None) if name else candidates[0]
    if question is None:
        raise Invalid("question", f"{name!r} cannot be applied in bulk; choose one of {[q.name for q in candidates]}")
    label = label.strip()
    if label not in question_type(question).labels_for(question):
        raise Invalid("label", f"choose one of {question_type(question).labels_for(question)} for {question.name}")
    return question, label


@router.get("/datasets/{workspace}/{dataset}/records")
async def bulk_page(request: Request, principal: WebUser, workspace: str, dataset: str) -> Response:
    spec = await load_spec(request, principal, workspace, dataset)
    context = await results_context(request, principal, spec, request.query_params)
    if is_htmx(request) and request.headers.get("HX-Target") == "bulk-results":
        page_url = f"/datasets/{spec.workspace}/{spec.name}/records?{query_string(context['filters'])}"
        return render(request, "annotate/partials/bulk_results.html", principal, headers={"HX-Replace-Url": page_url}, **context)
    return render(request, "annotate/bulk.html", principal, tab="records", **context)


@router.post("/datasets/{workspace}/{dataset}/records/bulk")
async def bulk_submit(request: Request, principal: WebUser, workspace: str, dataset: str) -> Response:
    """``scope=selected`` (checked ``record_id``s) or ``scope=matching`` (the filter; ``confirm=1`` to write)."""
    deps = request.app.state.deps
    spec = await load_spec(request, principal, workspace, dataset)
    form = await request.form()
    question, label = bulk_target(spec, form)
    try:
        value = question_type(question).bulk_value(question, label)
    except InvalidValue as error:
        raise Invalid("label", error.reason) from None
    status = str(form.get("apply_status") or "submitted")
    scope = str(form.get("scope") or "selected")
    record_ids = [str(v) for v in form.getlist("record_id")] if scope == "selected" else None
    if scope == "selected" and not record_ids:
        raise Invalid("record_id", "select at least one record")
    checked_query(spec, record_query(spec, form, limit=1), principal)  # the filter, before anything is written
    query = record_query(spec, form, limit=1) if scope == "matching" else None
    if query is not None:
        query.after = None
    dry_run = scope == "matching" and form.get("confirm") != "1"
    matched, changed = await bulk_apply(
        actor=principal, spec=spec, record_ids=record_ids, query=query, status=status, values={question.name: value},
        dry_run=dry_run, records=deps.records, responses=deps.responses, queue=deps.queue, relay=deps.relay,
    )
    if dry_run:
        return render(
            request, "annotate/partials/bulk_confirm.html", principal, spec=spec, label=label, status=status, matched=matched,
            target=f"{question.name}={label}", question_title=question.title or question.name,
        )
    context = await results_context(request, principal, spec, form)
    return render(
        request, "annotate/partials/bulk_done.html", principal, matched=matched, changed=changed, label=label, status=status, **context
    )
