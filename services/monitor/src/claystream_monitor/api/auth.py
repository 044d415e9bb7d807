"""Who is asking, and which workspaces they may see: an API key, a service token, or the
annotate UI's signed session cookie (one login for both web apps)."""

from __future__ import annotations

from dataclasses import dataclass

from claystream_common.auth import WORKSPACE_HEADER, AuthError
from fastapi import HTTPException, Request, status

__all__ = ["WORKSPACE_HEADER", "NotSignedIn", "Viewer", "require_user", "require_viewer", "viewer_from_request"]


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
    """Through ``claystream_common.auth`` (the same rules as every service; no direct read of annotate's data)."""
    try:
        identity = await request.app.state.deps.auth.identify(request.headers, request.cookies)
    except AuthError as error:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"{error.field}: {error.reason}") from None
    if identity is None:
        return None
    return Viewer(identity.kind, identity.name, identity.workspaces, identity.role, identity.csrf_token)


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
