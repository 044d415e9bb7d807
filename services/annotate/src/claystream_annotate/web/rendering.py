"""Templates and the context every page shares (user, CSRF token, navigation)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from claystream_webui import make_templates
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from claystream_annotate.services.principals import Principal, Role

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    return make_templates(TEMPLATES_DIR)


def is_htmx(request: Request) -> bool:
    """An htmx fragment request (history restores want the full page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def base_context(request: Request, principal: Principal | None, **extra: Any) -> dict[str, Any]:
    path = request.url.path
    nav = [{"href": "/", "label": "Datasets", "active": path == "/" or path.startswith("/datasets")}] if principal else []
    if principal is not None and principal.role.at_least(Role.ADMIN):
        nav.append({"href": "/team", "label": "Team", "active": path.startswith("/team")})
        nav.append({"href": "/webhooks", "label": "Webhooks", "active": path.startswith("/webhooks")})
        nav.append({"href": "/admin/quarantine", "label": "Quarantine", "active": path.startswith("/admin/quarantine")})
    return {
        "request": request,
        "app_name": "Annotate",
        "home_url": "/",
        "nav": nav,
        "user": principal,
        "csrf_token": principal.csrf_token if principal else None,
        "logout_url": "/logout",
        "is_admin": bool(principal and principal.role.at_least(Role.ADMIN)),
        **extra,
    }


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    return templates().TemplateResponse(
        request, template, base_context(request, principal, **context), status_code=status_code, headers=headers
    )
