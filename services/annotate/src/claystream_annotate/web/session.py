"""Who is using the UI: the signed session cookie → a Principal, with CSRF checked.

Pages depend on :data:`WebUser` (raises :class:`LoginRequired`, which the web routes turn into
a redirect to the login page).  Every state-changing request must carry the session's CSRF
token in the ``X-CSRF-Token`` header (htmx requests, via ``claystream.js``) or the
``csrf_token`` form field (plain forms).  The cookie itself is read by the API's
:func:`~claystream_annotate.api.auth.session_identity`, so the UI and the API agree on sessions.
"""

from __future__ import annotations

from typing import Annotated

from claystream_common.web_sessions import CSRF_FORM_FIELD, CSRF_HEADER, csrf_matches, requires_csrf
from fastapi import Depends, Request

from claystream_annotate.api.auth import principal_of, session_identity
from claystream_annotate.services.errors import Forbidden
from claystream_annotate.services.principals import Principal

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class LoginRequired(Exception):
    """No valid session: pages redirect to the login form."""


class CsrfRefused(Forbidden):
    """The request changes state but carries no (or the wrong) CSRF token."""


async def session_principal(request: Request) -> Principal | None:
    """The signed-in user, or None (missing, forged or expired cookie; user gone, inactive or logged out)."""
    identity = await session_identity(request)
    return None if identity is None else principal_of(identity)


async def presented_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").split(";")[0].strip() in FORM_TYPES:
        value = (await request.form()).get(CSRF_FORM_FIELD)
        return value if isinstance(value, str) else None
    return None


async def require_user(request: Request) -> Principal:
    principal = await session_principal(request)
    if principal is None:
        raise LoginRequired()
    if requires_csrf(request.method) and not csrf_matches(principal.csrf_token, await presented_csrf(request)):
        raise CsrfRefused("CSRF token missing or wrong: reload the page and try again")
    request.state.principal = principal
    return principal


WebUser = Annotated[Principal, Depends(require_user)]
