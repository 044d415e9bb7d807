"""Sign in and sign out (the session cookie is the shared ``claystream_session``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated
from urllib.parse import urlsplit

from claystream_common.web_sessions import csrf_matches, new_csrf_token
from claystream_webui.security import csp_with_form_targets
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from claystream_annotate.api.auth import client_ip, end_session, start_session
from claystream_annotate.services.errors import RateLimited, Unauthenticated
from claystream_annotate.services.users import login
from claystream_annotate.web.rendering import render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser, session_principal

router = APIRouter(route_class=WebRoute, include_in_schema=False)

LOGIN_CSRF_COOKIE = "claystream_login_csrf"


def origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased (None when it has none)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def safe_next(value: str | None, trusted: Collection[str] = ()) -> str:
    """Same-site paths (``/x``, never ``//host``), or a URL on one of the ``trusted`` origins (the monitor's
    dashboard, which sends its users here to sign in); anything else is ``/``."""
    if not value or "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "/"
    if value.startswith("/") and not value.startswith("//"):
        return value
    return value if origin(value) in trusted else "/"


def trusted_origins(request: Request) -> frozenset[str]:
    settings = request.app.state.deps.settings
    return frozenset(o for o in (origin(settings.monitor_public_url), origin(settings.monitor_url)) if o is not None)


def _login_page(request: Request, *, next_url: str, error: str | None = None, username: str = "", status_code: int = 200) -> Response:
    token = new_csrf_token()
    response = render(
        request, "annotate/login.html", None, status_code=status_code, login_csrf=token, next_url=next_url, error=error, username=username
    )
    settings = request.app.state.deps.settings
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", secure=settings.secure_cookies, path="/login"
    )
    if not next_url.startswith("/"):  # back to a trusted origin: the form's POST redirects there
        response.headers["Content-Security-Policy"] = csp_with_form_targets([origin(next_url) or ""])
    return response


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    if await session_principal(request) is not None:
        return RedirectResponse(safe_next(next, trusted_origins(request)), status_code=303)
    return _login_page(request, next_url=safe_next(next, trusted_origins(request)))


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    deps = request.app.state.deps
    next_url = safe_next(next, trusted_origins(request))
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _login_page(request, next_url=next_url, error="The form expired: please sign in again.", username=username, status_code=403)
    try:
        user = await login(username=username, password=password, client_ip=client_ip(request), users=deps.users, limiter=deps.limiter)
    except RateLimited as error:
        response = _login_page(request, next_url=next_url, error=str(error), username=username, status_code=429)
        response.headers["Retry-After"] = str(error.retry_after_s)
        return response
    except Unauthenticated:
        return _login_page(request, next_url=next_url, error="Wrong username or password.", username=username, status_code=401)
    response = RedirectResponse(next_url, status_code=303)
    start_session(response, deps, user)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, principal: WebUser) -> Response:
    response = RedirectResponse("/login", status_code=303)
    await end_session(request, response, request.app.state.deps)
    return response
