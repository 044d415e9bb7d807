"""Who is asking, and which workspaces they may see: an API key, a service token, or the
annotate UI's signed session cookie (one login for both web apps)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from claystream_common.apikeys import parse_api_key, secret_matches
from claystream_common.mongo import mongo_database
from claystream_common.web_sessions import SESSION_COOKIE, SessionCodec, WebSession, session_still_valid
from fastapi import HTTPException, Request, status

WORKSPACE_HEADER = "X-Claystream-Workspace"


@dataclass(frozen=True, slots=True)
class Viewer:
    kind: str  # "service" | "api_key" | "user"
    name: str
    workspaces: frozenset[str] | None  # None: every workspace
    role: str | None = None
    csrf_token: str | None = None

    def may_see(self, workspace: str | None) -> bool:
        return self.workspaces is None or (workspace is not None and workspace in self.workspaces)

    def scope(self) -> str | None:
        """A single workspace to filter on, when the viewer has exactly one."""
        if self.workspaces is not None and len(self.workspaces) == 1:
            return next(iter(self.workspaces))
        return None


class NotSignedIn(Exception):
    """Raised by the dashboard dependency; turned into a redirect to the annotate login page."""


async def viewer_from_request(request: Request) -> Viewer | None:
    deps = request.app.state.deps
    settings = deps.settings
    db = mongo_database(deps.mongo, settings)
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if not hmac.compare_digest(token.encode(), settings.service_token.encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Authorization: invalid service token")
        workspace = request.headers.get(WORKSPACE_HEADER)
        return Viewer("service", "service", frozenset({workspace}) if workspace else None)
    api_key = request.headers.get("x-api-key")
    if api_key:
        parsed = parse_api_key(api_key)
        if parsed is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="X-API-Key: malformed (expected cs_<id>_<secret>)")
        document: dict[str, Any] | None = await db["api_keys"].find_one({"_id": parsed[0]})
        if document is None or document.get("revoked") or not secret_matches(parsed[1], document.get("secret_sha256", "")):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="X-API-Key: unknown or revoked key")
        return Viewer("api_key", document.get("name") or parsed[0], frozenset({document["workspace"]}), document.get("role"))
    session = SessionCodec(settings.secret_key, max_age_s=settings.session_max_age_s).decode(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        return await _user_viewer(db, session)
    return None


async def _user_viewer(db: Any, session: WebSession) -> Viewer | None:
    user = await db["users"].find_one({"_id": session.user_id})
    if user is None or not session_still_valid(
        session, active=bool(user.get("active", True)), epoch=int(user.get("session_epoch", 0)), ended=user.get("ended_sessions", [])
    ):
        return None
    role = user.get("role")
    workspaces = None if role == "owner" else frozenset(user.get("workspaces", []))
    return Viewer("user", user.get("username", session.user_id), workspaces, role, session.csrf_token)


async def require_viewer(request: Request) -> Viewer:
    viewer = await viewer_from_request(request)
    if viewer is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="authentication required: X-API-Key, Authorization: Bearer <service token>, or a session cookie",
        )
    return viewer


async def require_user(request: Request) -> Viewer:
    viewer = await viewer_from_request(request)
    if viewer is None:
        raise NotSignedIn()
    return viewer
