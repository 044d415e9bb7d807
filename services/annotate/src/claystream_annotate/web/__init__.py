"""The htmx annotation UI served at the service root (``/``).

``main.py`` includes :data:`claystream_annotate.web.routes.router` and calls :func:`mount_web`,
which serves the shared static assets (``/static/ui``) and adds the security headers.
"""

from __future__ import annotations

from claystream_webui import SecurityHeadersMiddleware, mount_static
from fastapi import FastAPI


def mount_web(app: FastAPI) -> None:
    """Static assets + security headers (CSP ``script-src 'self'``, nosniff, frame-ancestors 'none')."""
    mount_static(app)
    if not getattr(app.state, "security_headers_installed", False):
        app.add_middleware(SecurityHeadersMiddleware)
        app.state.security_headers_installed = True
