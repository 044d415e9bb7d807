"""The dashboard: server-rendered pages (jinja2, the shared Claystream look) with htmx fragments
that refresh themselves every 5 s.  One login with annotate (its signed session cookie)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from claystream_monitor.api.auth import NotSignedIn, Viewer
from claystream_monitor.api.deps import EngineDep, StoreDep, UserDep
from claystream_monitor.services.overview import latest_scores, list_models, model_overview
from claystream_monitor.web import charts

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "web" / "templates"
router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)


def _templates(request: Request) -> Any:
    return request.app.state.templates


def _context(request: Request, viewer: Viewer, **extra: Any) -> dict[str, Any]:
    settings = request.app.state.deps.settings
    nav = [{"href": "/dashboard", "label": "Models", "active": True}]
    annotate = settings.annotate_public_url or settings.annotate_url
    if annotate:
        nav.append({"href": annotate, "label": "Annotate", "active": False})
    return {"request": request, "app_name": "Monitor", "home_url": "/dashboard", "nav": nav,
            "user": {"username": viewer.name, "role": viewer.role}, "csrf_token": viewer.csrf_token, **extra}


async def _models(viewer: Viewer, store: Any, engine: Any) -> list[dict[str, Any]]:
    return await list_models(store=store, engine=engine, workspaces=viewer.workspaces)


@router.get("", response_class=HTMLResponse)
async def models_page(request: Request, viewer: UserDep, store: StoreDep, engine: EngineDep) -> Response:
    models = await _models(viewer, store, engine)
    return _templates(request).TemplateResponse(request, "monitor/index.html", _context(request, viewer, models=models))


@router.get("/fragments/models", response_class=HTMLResponse)
async def models_fragment(request: Request, viewer: UserDep, store: StoreDep, engine: EngineDep) -> Response:
    models = await _models(viewer, store, engine)
    return _templates(request).TemplateResponse(request, "monitor/partials/models.html", {"request": request, "models": models})


async def _model_context(
    request: Request, viewer: Viewer, store: Any, engine: Any, model: str, version: str | None, hours: float,
    workspace: str | None = None,
) -> dict[str, Any]:
    candidates = [m for m in await _models(viewer, store, engine) if m["model"] == model]
    if workspace is not None:
        candidates = [m for m in candidates if m["workspace"] == workspace]
    if version is not None:
        candidates = [m for m in candidates if m["model_version"] == version]
    if not candidates:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"model: no monitored model {model!r}")
    chosen = next((m for m in candidates if m["champion"]), candidates[-1])
    overview = await model_overview(chosen["id"], store=store, hours=hours)
    scores = latest_scores(overview)
    return {
        "model": chosen, "overview": overview, "scores": scores, "hours": hours,
        "versions": [m["model_version"] for m in candidates],
        "traffic_chart": charts.traffic_chart(overview["traffic"], overview["labels"]),
        "label_chart": charts.label_share_chart(overview["traffic"], overview["labels"]),
        "drift_charts": {s["check"]: charts.drift_chart(overview["drift"], s["check"]) for s in scores},
        "accuracy_chart": charts.accuracy_chart(overview["accuracy"]),
        "total": sum(t["count"] for t in overview["traffic"]),
        "fragment_url": f"/dashboard/models/{quote(model)}/fragments/panels?hours={hours}"
                        + (f"&version={quote(chosen['model_version'])}" if chosen["model_version"] else "")
                        + (f"&workspace={quote(chosen['workspace'])}" if chosen["workspace"] else ""),
    }


# a model's name may hold "/" (org/model): ``{model:path}``, the panels route first (the page's would match it)
@router.get("/models/{model:path}/fragments/panels", response_class=HTMLResponse)
async def model_panels(
    request: Request, model: str, viewer: UserDep, store: StoreDep, engine: EngineDep,
    version: str | None = None, hours: float = Query(default=24, gt=0, le=24 * 90), workspace: str | None = None,
) -> Response:
    context = await _model_context(request, viewer, store, engine, model, version, hours, workspace)
    return _templates(request).TemplateResponse(request, "monitor/partials/panels.html", {"request": request, **context})


@router.get("/models/{model:path}", response_class=HTMLResponse)
async def model_page(
    request: Request, model: str, viewer: UserDep, store: StoreDep, engine: EngineDep,
    version: str | None = None, hours: float = Query(default=24, gt=0, le=24 * 90), workspace: str | None = None,
) -> Response:
    context = await _model_context(request, viewer, store, engine, model, version, hours, workspace)
    return _templates(request).TemplateResponse(request, "monitor/model.html", _context(request, viewer, **context))


def install(app: FastAPI) -> None:
    """Templates, the shared static files, the routes, and the "sign in with annotate" redirect."""
    from claystream_webui.assets import mount_static
    from claystream_webui.security import SecurityHeadersMiddleware
    from claystream_webui.templating import make_templates

    app.state.templates = make_templates(TEMPLATES_DIR)
    mount_static(app)
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=status.HTTP_303_SEE_OTHER)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _: NotSignedIn) -> Response:
        settings = request.app.state.deps.settings
        annotate_url = settings.annotate_public_url or settings.annotate_url  # the browser follows this redirect
        if request.headers.get("HX-Request"):
            return Response(status_code=status.HTTP_401_UNAUTHORIZED, headers={"HX-Refresh": "true"})
        if annotate_url:
            target = quote(str(request.url), safe="")
            return RedirectResponse(f"{annotate_url.rstrip('/')}/login?next={target}", status_code=status.HTTP_303_SEE_OTHER)
        return HTMLResponse("<h1>Sign in required</h1><p>Sign in to Claystream annotate first.</p>", status_code=401)
