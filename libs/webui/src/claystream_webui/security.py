"""Security headers for every response of a web app (pure ASGI middleware)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script anywhere: scripts come from our own origin only (htmx config is a <meta>,
# the CSRF token is a <meta> read by claystream.js, chart data sits in data-* attributes).
DEFAULT_CSP = (
    "default-src 'self'; "
    "script-src 'self'; "
    "style-src 'self'; "
    "img-src 'self' data:; "
    "font-src 'self'; "
    "connect-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)


def csp_with_form_targets(origins: Iterable[str], csp: str = DEFAULT_CSP) -> str:
    """``csp`` whose ``form-action`` also allows ``origins``: browsers apply form-action to where a form's POST
    redirects, so a sign-in form that returns the user to another of our origins (the monitor's dashboard) needs it."""
    extra = " ".join(sorted(set(origins)))
    return csp.replace("form-action 'self'", f"form-action 'self' {extra}") if extra else csp


def security_headers(csp: str = DEFAULT_CSP) -> list[tuple[str, str]]:
    return [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ]


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response that does not set them itself.

    ``csp_exempt`` path prefixes (FastAPI's own ``/docs`` and ``/redoc``, which use inline
    script) get every header but the Content-Security-Policy.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        csp: str = DEFAULT_CSP,
        extra: Iterable[tuple[str, str]] = (),
        csp_exempt: tuple[str, ...] = ("/docs", "/redoc"),
    ) -> None:
        self.app = app
        self.headers = [*security_headers(csp), *extra]
        self.csp_exempt = csp_exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        exempt = str(scope.get("path", "")).startswith(self.csp_exempt)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers and not (exempt and name == "Content-Security-Policy"):
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
