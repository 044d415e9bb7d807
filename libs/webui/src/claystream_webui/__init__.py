"""Claystream's shared web look, used by the annotate UI and the monitor dashboard.

- :func:`make_templates` — a Jinja environment (autoescaping, our filters) whose loader finds the
  app's own templates first and then ``base.html`` / ``macros.html`` from this package;
- :func:`mount_static` — serves ``/static/ui`` (CSS, JS, vendored htmx and Chart.js);
- :class:`SecurityHeadersMiddleware` — CSP (``script-src 'self'``, no inline script), nosniff,
  ``frame-ancestors 'none'``, Referrer-Policy.
"""

from claystream_webui.assets import STATIC_DIR, STATIC_URL, TEMPLATES_DIR, mount_static
from claystream_webui.security import DEFAULT_CSP, SecurityHeadersMiddleware
from claystream_webui.templating import make_environment, make_templates, percent, record_text

__all__ = [
    "DEFAULT_CSP",
    "STATIC_DIR",
    "STATIC_URL",
    "TEMPLATES_DIR",
    "SecurityHeadersMiddleware",
    "make_environment",
    "make_templates",
    "mount_static",
    "percent",
    "record_text",
]
