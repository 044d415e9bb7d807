"""Who is calling: session cookie (+ CSRF on state-changing requests), ``X-API-Key``, or
``Authorization: Bearer <service_token>`` with ``X-Claystream-Workspace``.

The web UI uses :data:`PrincipalDep` (raises 401), :data:`OptionalPrincipalDep` (None when
not logged in, to redirect to the login page) and :func:`start_session` / :func:`end_session`.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import Annotated

from claystream_common.apikeys import parse_api_key, secret_matches
from claystream_common.web_sessions import (
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    WebSession,
    cookie_options,
    csrf_matches,
    requires_csrf,
    session_still_valid,
)
from fastapi import Depends, Request, Response

from claystream_annotate.bootstrap import Deps
from claystream_annotate.services.errors import Forbidden, Unauthenticated
from claystream_annotate.services.ports import User
from claystream_annotate.services.principals import Principal, Role, service_principal
from claystream_annotate.services.accounts import end_session as end_user_session
from claystream_annotate.services.users import principal_for

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _deps(request: Request) -> Deps:
    return request.app.state.deps


async def _from_api_key(deps: Deps, value: str) -> Principal:
    parsed = parse_api_key(value)
    if parsed is None:
        raise Unauthenticated("malformed X-API-Key")
    key_id, secret = parsed
    document = await deps.api_keys.get(key_id)
    if document is None or document.get("revoked") or not secret_matches(secret, document.get("secret_sha256", "")):
        raise Unauthenticated("unknown or revoked API key")
    role = Role(document.get("role", "annotator"))
    if role is Role.OWNER:
        role = Role.ADMIN  # a key never reaches beyond its workspace
    return Principal(
        user_id=f"apikey-{key_id}", username=document.get("name", key_id), role=role,
        workspaces=frozenset({document["workspace"]}), kind="api_key",
    )


async def _check_csrf(request: Request, session: WebSession) -> None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").split(";")[0].strip() in FORM_TYPES:
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        presented = value if isinstance(value, str) else None
    if not csrf_matches(session.csrf_token, presented):
        raise Forbidden(f"missing or wrong CSRF token (send header {CSRF_HEADER} or form field {CSRF_FORM_FIELD})")


async def session_user(request: Request) -> tuple[User, WebSession] | None:
    """The logged-in user from the cookie (None when absent, forged, expired or logged out)."""
    deps = _deps(request)
    session = deps.sessions.decode(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    user = await deps.users.get(session.user_id)
    if user is None or not session_still_valid(session, active=user.active, epoch=user.session_epoch, ended=user.ended_sessions):
        return None
    return user, session


async def optional_principal(request: Request) -> Principal | None:
    """Like :func:`current_principal` but None instead of 401 (pages redirect to login)."""
    deps = _deps(request)
    api_key = request.headers.get("X-API-Key")
    if api_key:
        return await _from_api_key(deps, api_key)
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ").strip()
        if not hmac.compare_digest(token.encode(), deps.settings.service_token.encode()):
            raise Unauthenticated("wrong service token")
        workspace = request.headers.get("X-Claystream-Workspace")
        if not workspace:
            raise Unauthenticated("service calls need the X-Claystream-Workspace header")
        return service_principal(workspace)
    found = await session_user(request)
    if found is None:
        return None
    user, session = found
    if requires_csrf(request.method):
        await _check_csrf(request, session)
    return replace(principal_for(user), csrf_token=session.csrf_token)


async def current_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthenticated("log in, or send X-API-Key")
    return principal


def start_session(response: Response, deps: Deps, user: User) -> WebSession:
    """Set the signed session cookie for ``user``; returns the session (its CSRF token)."""
    session = deps.sessions.new_session(user.id, epoch=user.session_epoch)
    response.set_cookie(
        value=deps.sessions.encode(session),
        **cookie_options(secure=deps.settings.secure_cookies, max_age_s=deps.settings.session_max_age_s),
    )
    return session


async def end_session(request: Request, response: Response, deps: Deps) -> None:
    """Logout: end this session server-side (a copied cookie stops working too) and drop the cookie."""
    found = await session_user(request)
    if found is not None:
        user, session = found
        await end_user_session(user_id=user.id, session=session, max_age_s=deps.settings.session_max_age_s, users=deps.users)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=deps.settings.secure_cookies, httponly=True, samesite="lax")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


PrincipalDep = Annotated[Principal, Depends(current_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
