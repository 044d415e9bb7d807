"""The dataset list (the home page) and the new-dataset form."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from claystream_common.datasets import DatasetSpec
from claystream_common.questions import QUESTION_TYPES
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from claystream_annotate.services.datasets import create_dataset, dataset_progress, list_datasets
from claystream_annotate.services.errors import Conflict, Forbidden, Invalid, NotFound
from claystream_annotate.services.principals import Principal
from claystream_annotate.web.rendering import render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def summary(spec: DatasetSpec, records: int) -> str:
    labels = next((q.labels for q in spec.questions if q.labels), [])
    shown = ", ".join(labels[:4]) + ("…" if len(labels) > 4 else "")
    parts = [f"{records:,} records"]
    if shown:
        parts.append(shown)
    if spec.min_submitted > 1:
        parts.append(f"{spec.min_submitted} annotators per record")
    return " · ".join(parts)


@router.get("/")
async def dataset_list(request: Request, principal: WebUser) -> Response:
    deps = request.app.state.deps
    specs = await list_datasets(actor=principal, workspace=None, datasets=deps.datasets)
    progress = await dataset_progress(specs, counters=deps.counters)
    groups: dict[str, list[dict[str, object]]] = defaultdict(list)
    for spec in sorted(specs, key=lambda s: (s.workspace, s.name)):
        numbers = progress.get(spec.id, {"records": 0, "completed": 0})
        groups[spec.workspace].append({"spec": spec, "progress": numbers, "summary": summary(spec, numbers["records"])})
    return render(request, "annotate/datasets.html", principal, groups=sorted(groups.items()))


async def admin_workspaces(request: Request, principal: Principal) -> list[str]:
    administered = principal.administered(await request.app.state.deps.workspaces.list())
    if not administered:
        raise Forbidden("creating datasets needs the admin role")
    return administered


@router.get("/datasets/new")
async def new_dataset_page(request: Request, principal: WebUser) -> Response:
    workspaces = await admin_workspaces(request, principal)
    return render(request, "annotate/new_dataset.html", principal, workspaces=workspaces, form={}, error=None,
                  question_types=QUESTION_TYPES.values())


def _labels(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


@router.post("/datasets/new")
async def new_dataset_submit(
    request: Request,
    principal: WebUser,
    workspace: Annotated[str, Form()],
    name: Annotated[str, Form()],
    text_field: Annotated[str, Form()] = "text",
    question: Annotated[str, Form()] = "label",
    question_type: Annotated[str, Form()] = "label",
    labels: Annotated[str, Form()] = "",
    guidelines: Annotated[str, Form()] = "",
    min_submitted: Annotated[int, Form(ge=1, le=20)] = 1,
) -> Response:
    workspaces = await admin_workspaces(request, principal)
    if workspace not in workspaces:  # only the ones the page offers: a tampered form named a workspace that is not
        raise NotFound(f"workspace {workspace} not found")  # there (it was created, nowhere listed) or not theirs
    body = {
        "name": name.strip(),
        "guidelines": guidelines,
        "fields": [{"name": text_field.strip() or "text"}],
        "questions": [{"name": question.strip() or "label", "type": question_type}],
        "min_submitted": min_submitted,
    }
    if question_type in QUESTION_TYPES:
        settings = QUESTION_TYPES[question_type].settings_from_form(_labels(labels), text_field.strip() or "text")
        body["questions"][0].update(settings)
    try:
        deps = request.app.state.deps
        spec = await create_dataset(body, actor=principal, workspace=workspace, datasets=deps.datasets, counters=deps.counters,
                                    queue=deps.queue)
    except (Invalid, Conflict) as error:
        form = {"workspace": workspace, "name": name, "text_field": text_field, "question": question,
                "question_type": question_type, "labels": labels, "guidelines": guidelines, "min_submitted": min_submitted}
        return render(request, "annotate/new_dataset.html", principal, status_code=422, workspaces=workspaces, form=form, error=str(error),
                      question_types=QUESTION_TYPES.values())
    return RedirectResponse(f"/datasets/{spec.workspace}/{spec.name}/settings", status_code=303)
