"""Who is calling: session cookie (+ CSRF on state-changing requests), ``X-API-Key``, or
``Authorization: Bearer <service_token>`` with ``X-Claystream-Workspace``, resolved by
``claystream_common.auth`` (the one authentication module of every service) into a :class:`Principal`.

The web UI uses :data:`PrincipalDep` (raises 401), :data:`OptionalPrincipalDep` (None when
not logged in, to redirect to the login page) and :func:`start_session` / :func:`end_session`.
"""

from __future__ import annotations

from typing import Annotated

from claystream_common.auth import AuthError, Identity
from claystream_common.web_sessions import (
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    WebSession,
    cookie_options,
    csrf_matches,
    requires_csrf,
)
from fastapi import Depends, Request, Response

from claystream_annotate.bootstrap import Deps
from claystream_annotate.services.errors import Forbidden, Unauthenticated
from claystream_annotate.services.ports import User
from claystream_annotate.services.accounts import end_session as end_user_session
from claystream_annotate.services.principals import Principal, Role, service_principal

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _deps(request: Request) -> Deps:
    return request.app.state.deps


def principal_of(identity: Identity) -> Principal:
    """The annotate principal of an identity from ``claystream_common.auth``."""
    if identity.kind == "service":
        return service_principal(identity.workspace or "")
    if identity.kind == "api_key":
        return Principal(
            user_id=f"apikey-{identity.subject}", username=identity.name, role=Role(identity.role),
            workspaces=identity.workspaces, kind="api_key",
        )
    roles = None if identity.roles is None else {name: Role(role) for name, role in identity.roles.items()}
    return Principal(
        user_id=identity.subject, username=identity.name, role=Role(identity.role), workspaces=identity.workspaces,
        kind="user", csrf_token=identity.csrf_token, roles=roles,
    )


async def _check_csrf(request: Request, session: WebSession) -> None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").split(";")[0].strip() in FORM_TYPES:
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        presented = value if isinstance(value, str) else None
    if not csrf_matches(session.csrf_token, presented):
        raise Forbidden(f"missing or wrong CSRF token (send header {CSRF_HEADER} or form field {CSRF_FORM_FIELD})")


async def session_identity(request: Request) -> Identity | None:
    """The signed-in user from the cookie (None when absent, forged, expired, logged out or disabled)."""
    return await _deps(request).auth.session(request.cookies.get(SESSION_COOKIE))


async def optional_principal(request: Request) -> Principal | None:
    """Like :func:`current_principal` but None instead of 401 (pages redirect to login)."""
    try:
        identity = await _deps(request).auth.identify(request.headers, request.cookies)
    except AuthError as error:
        raise Unauthenticated(f"{error.field}: {error.reason}") from None
    if identity is None:
        return None
    if identity.session is not None and requires_csrf(request.method):
        await _check_csrf(request, identity.session)
    return principal_of(identity)


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
    identity = await session_identity(request)
    if identity is not None and identity.session is not None:
        await end_user_session(
            user_id=identity.subject, session=identity.session, max_age_s=deps.settings.session_max_age_s, users=deps.users
        )
    response.delete_cookie(SESSION_COOKIE, path="/", secure=deps.settings.secure_cookies, httponly=True, samesite="lax")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


PrincipalDep = Annotated[Principal, Depends(current_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
