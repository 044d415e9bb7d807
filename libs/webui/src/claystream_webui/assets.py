"""Where the shared static files and templates live, and how an app serves them."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_URL = "/static/ui"
STATIC_ROUTE_NAME = "webui-static"


def mount_static(app: Starlette, *, path: str = STATIC_URL) -> None:
    """Serve the shared assets (idempotent: a second call is a no-op)."""
    if any(getattr(route, "name", None) == STATIC_ROUTE_NAME for route in app.routes):
        return
    app.mount(path, StaticFiles(directory=STATIC_DIR), name=STATIC_ROUTE_NAME)
