"""The metrics page: per-annotator counts, Krippendorff's alpha per question, label distribution."""

from __future__ import annotations

from claystream_common.questions import question_type
from fastapi import APIRouter, Request
from fastapi.responses import Response

from claystream_annotate.services.metrics import dataset_metrics
from claystream_annotate.web.pages.annotate import load_spec, progress_for
from claystream_annotate.web.rendering import render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def distribution_rows(counts: dict[str, int]) -> list[dict[str, object]]:
    total = sum(counts.values()) or 1
    return [{"label": label, "count": count, "share": count / total} for label, count in counts.items()]


@router.get("/datasets/{workspace}/{dataset}/metrics")
async def metrics_page(request: Request, principal: WebUser, workspace: str, dataset: str) -> Response:
    deps = request.app.state.deps
    spec = await load_spec(request, principal, workspace, dataset)
    metrics = await dataset_metrics(actor=principal, spec=spec, responses=deps.responses, users=deps.users)
    questions = [
        {
            "name": q.name,
            "title": q.title or q.name,
            "type": q.type,
            "counted": bool(question_type(q).labels_for(q) or question_type(q).options(q)),
            "agreement": metrics["agreement"].get(q.name, {}),
            "distribution": distribution_rows(metrics["distribution"].get(q.name, {})),
        }
        for q in spec.questions
    ]
    return render(
        request, "annotate/metrics.html", principal, spec=spec, tab="metrics", annotators=metrics["annotators"],
        questions=questions, progress=await progress_for(request, spec, principal),
    )
