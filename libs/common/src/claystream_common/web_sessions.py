"""Signed session cookies and CSRF tokens shared by the annotate UI and the monitor dashboard.

One login for both: the cookie ``claystream_session`` carries a payload signed with the
shared ``secret_key`` (itsdangerous ``URLSafeTimedSerializer``), so any service holding
the key can read it.  The payload holds the user id, a per-session CSRF token and the
user's ``session_epoch`` (bumping the epoch in the user document logs every session out).

CSRF: every state-changing request (anything but GET/HEAD/OPTIONS) authenticated by the
cookie must present the session's token in the ``X-CSRF-Token`` header (htmx sends it)
or in the ``csrf_token`` form field; :func:`csrf_matches` compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SESSION_COOKIE = "claystream_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SALT = "claystream.session.v1"


@dataclass(frozen=True, slots=True)
class WebSession:
    """What the cookie says: who, their CSRF token, and when it was issued."""

    user_id: str
    csrf_token: str
    issued_at: float
    epoch: int = 0


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


class SessionCodec:
    """Encode / decode the signed cookie value.  ``max_age_s`` bounds a session's life."""

    def __init__(self, secret_key: str, *, max_age_s: int = 12 * 3600) -> None:
        if not secret_key:
            raise ValueError("secret_key must not be empty")
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.max_age_s = max_age_s

    def new_session(self, user_id: str, *, epoch: int = 0) -> WebSession:
        return WebSession(user_id=user_id, csrf_token=new_csrf_token(), issued_at=time.time(), epoch=epoch)

    def encode(self, session: WebSession) -> str:
        payload: dict[str, Any] = {"u": session.user_id, "c": session.csrf_token, "t": session.issued_at, "e": session.epoch}
        return self._serializer.dumps(payload)

    def decode(self, value: str | None) -> WebSession | None:
        """The session, or None when the cookie is missing, forged, malformed or expired."""
        if not value:
            return None
        try:
            payload = self._serializer.loads(value, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(payload, dict):
            return None
        user_id, csrf, issued = payload.get("u"), payload.get("c"), payload.get("t")
        if not isinstance(user_id, str) or not isinstance(csrf, str) or not isinstance(issued, int | float):
            return None
        epoch = payload.get("e", 0)
        return WebSession(user_id=user_id, csrf_token=csrf, issued_at=float(issued), epoch=int(epoch) if isinstance(epoch, int) else 0)


def cookie_options(*, secure: bool, max_age_s: int) -> dict[str, Any]:
    """Keyword arguments for ``Response.set_cookie`` (HttpOnly, SameSite=Lax, Secure in production)."""
    return {
        "key": SESSION_COOKIE,
        "max_age": max_age_s,
        "httponly": True,
        "samesite": "lax",
        "secure": secure,
        "path": "/",
    }


def requires_csrf(method: str) -> bool:
    return method.upper() not in SAFE_METHODS


def session_tag(session: WebSession) -> str:
    """What a user document keeps to end one session server-side (``ended_sessions``): the issue
    time (so old tags can be pruned) and a hash of the session's CSRF token (unique per session)."""
    digest = hashlib.sha256(session.csrf_token.encode()).hexdigest()[:32]
    return f"{int(session.issued_at)}:{digest}"


def session_still_valid(session: WebSession, *, active: bool, epoch: int, ended: Iterable[str]) -> bool:
    """A decoded (signed, unexpired) session counts only while its user is active, the user's
    session epoch is unchanged (password change, disable, "end all sessions") and this session was
    not ended by a logout.  Annotate and the monitor both decide with this."""
    return active and epoch == session.epoch and session_tag(session) not in set(ended)


def live_session_tags(tags: Iterable[str], *, max_age_s: int, now: float | None = None) -> list[str]:
    """The tags of sessions that could still be presented (younger than ``max_age_s``)."""
    cutoff = (now if now is not None else time.time()) - max_age_s
    kept = []
    for tag in tags:
        issued, _, _ = tag.partition(":")
        if issued.isdigit() and int(issued) >= cutoff:
            kept.append(tag)
    return kept
