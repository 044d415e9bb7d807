"""Signing in to annotate as a user: its real login (``POST /api/v1/auth/login``) sets an HttpOnly session
cookie, which the httpx client keeps, and answers a CSRF token that every state-changing request must
carry in ``X-CSRF-Token``.  ``POST /api/v1/auth/logout`` ends the session server-side (a copy of the
cookie stops working too)."""

from __future__ import annotations

from typing import Any

from claystream._http import RetryingJson, decode
from claystream.errors import error_for

LOGIN_PATH = "/api/v1/auth/login"
LOGOUT_PATH = "/api/v1/auth/logout"
CSRF_HEADER = "X-CSRF-Token"


def sign_in(http: RetryingJson, username: str, password: str) -> dict[str, Any]:
    """Log in on ``http`` (its cookie jar keeps the session; the CSRF token goes on every later request).

    Returns the signed-in user (``id``, ``username``, ``role``, ``workspaces``, ``memberships``);
    a wrong password or a disabled user raises :class:`~claystream.errors.Unauthorized`, too many
    attempts the server's 429 (not retried here: a lockout is not an overload)."""
    response = http.client.post(LOGIN_PATH, json={"username": username, "password": password})
    payload = decode(response)
    if response.status_code >= 400:
        raise error_for(response.status_code, payload, method="POST", url=LOGIN_PATH)
    http.client.headers[CSRF_HEADER] = str(payload["csrf_token"])
    return dict(payload["user"])


def sign_out(http: RetryingJson) -> None:
    """End the session on the server, then forget the cookie and the CSRF token here."""
    try:
        response = http.request("POST", LOGOUT_PATH)
        if response.status_code >= 400 and response.status_code != 401:  # 401: it had ended already
            raise error_for(response.status_code, decode(response), method="POST", url=LOGOUT_PATH)
    finally:
        http.client.cookies.clear()
        http.client.headers.pop(CSRF_HEADER, None)
