"""One authentication module for every service (issue 14 item 5): an API key (``X-API-Key``), the
service token (``Authorization: Bearer`` + ``X-Claystream-Workspace``) or annotate's signed session
cookie, resolved to one :class:`Identity`.

Services pass lookups (ports) for API keys and users; :mod:`claystream_common.auth_mongo` holds the
MongoDB ones over the shared ``api_keys`` and ``users`` collections (the contract is
:class:`ApiKeyRecord` / :class:`UserRecord`).  Each service then decides what the identity may do
(roles, workspaces) with its own rules; nothing here knows about routes.

Rules every service gets from here: a key never reaches beyond its workspace (a key with role owner
acts as admin); secrets and the service token are compared in constant time; a session counts only
while its user is active, their session epoch is unchanged, the session was not ended by a logout and
it is younger than the session max age (:func:`~claystream_common.web_sessions.session_still_valid`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claystream_common.apikeys import parse_api_key, secret_matches
from claystream_common.datasets import valid_name
from claystream_common.web_sessions import SESSION_COOKIE, SessionCodec, WebSession, session_still_valid

WORKSPACE_HEADER = "X-Claystream-Workspace"
ROLE_RANK = {"annotator": 0, "admin": 1, "owner": 2}


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A document of the shared ``api_keys`` collection (written by annotate, read by every service)."""

    key_id: str
    workspace: str
    name: str
    role: str
    secret_sha256: str
    revoked: bool = False

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ApiKeyRecord | None:
        if "workspace" not in document or "secret_sha256" not in document:
            return None
        return cls(
            key_id=str(document["_id"]), workspace=str(document["workspace"]), name=str(document.get("name") or ""),
            role=str(document.get("role") or "annotator"), secret_sha256=str(document["secret_sha256"]),
            revoked=bool(document.get("revoked", False)),
        )


@dataclass(frozen=True, slots=True)
class UserRecord:
    """What authentication needs of a document of annotate's ``users`` collection."""

    user_id: str
    username: str
    role: str  # "owner" (global) or the highest membership role
    memberships: Mapping[str, str] = field(default_factory=dict)  # workspace → role
    active: bool = True
    session_epoch: int = 0
    ended_sessions: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> UserRecord:
        stored = document.get("memberships")
        if isinstance(stored, Mapping):
            memberships = {str(k): str(v) for k, v in stored.items()}
        else:  # written before memberships existed: one role in every workspace listed
            memberships = {str(name): str(document.get("role", "annotator")) for name in document.get("workspaces", [])}
        return cls(
            user_id=str(document["_id"]), username=str(document.get("username", document["_id"])),
            role=str(document.get("role", "annotator")), memberships=memberships,
            active=bool(document.get("active", True)), session_epoch=int(document.get("session_epoch", 0) or 0),
            ended_sessions=tuple(str(t) for t in document.get("ended_sessions", [])),
        )


ApiKeyLookup = Callable[[str], Awaitable[ApiKeyRecord | None]]
UserLookup = Callable[[str], Awaitable[UserRecord | None]]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling.  ``workspaces`` None: every workspace (owners; a service call without a
    workspace where the service allows it).  ``roles``: the role per workspace (users; keys and
    services hold ``role`` in their one workspace)."""

    kind: str  # "user" | "api_key" | "service"
    subject: str  # user id, key id, or "service"
    name: str
    role: str
    workspaces: frozenset[str] | None
    roles: Mapping[str, str] | None = None
    csrf_token: str | None = None
    session: WebSession | None = None

    def role_in(self, workspace: str | None) -> str | None:
        if workspace is None:
            return None
        if self.workspaces is not None and workspace not in self.workspaces:
            return None
        if self.roles is not None and self.workspaces is not None:
            return self.roles.get(workspace)
        return self.role

    @property
    def workspace(self) -> str | None:
        """The one workspace of a key or a service call."""
        if self.kind != "user" and self.workspaces is not None and len(self.workspaces) == 1:
            return next(iter(self.workspaces))
        return None


class AuthError(Exception):
    """The credentials presented are wrong; ``status`` 401 (or 400 for a malformed workspace header)."""

    def __init__(self, field_name: str, reason: str, status: int = 401) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason
        self.status = status


def highest(roles: Mapping[str, str]) -> str:
    return max(roles.values(), key=lambda r: ROLE_RANK.get(r, 0), default="annotator")


def user_identity(user: UserRecord, session: WebSession | None = None) -> Identity:
    if user.role == "owner":
        return Identity("user", user.user_id, user.username, "owner", None, None,
                        session.csrf_token if session else None, session)
    return Identity("user", user.user_id, user.username, highest(user.memberships), frozenset(user.memberships),
                    dict(user.memberships), session.csrf_token if session else None, session)


class Authenticator:
    """Resolves the credentials of a request.  ``service_needs_workspace``: a service-token call must
    name its workspace (every service but the monitor's read-only API, which may look at all)."""

    def __init__(
        self, *, service_token: str, api_keys: ApiKeyLookup, users: UserLookup | None = None,
        sessions: SessionCodec | None = None, service_needs_workspace: bool = True,
    ) -> None:
        self.service_token = service_token
        self.api_keys = api_keys
        self.users = users
        self.sessions = sessions
        self.service_needs_workspace = service_needs_workspace

    async def identify(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Identity | None:
        """The caller, or None when no credentials were presented; :class:`AuthError` when they are wrong."""
        api_key = headers.get("x-api-key")
        if api_key:
            return await self.api_key(api_key)
        authorization = headers.get("authorization")
        if authorization:
            return self.service(authorization, headers.get(WORKSPACE_HEADER.lower()))
        return await self.session(cookies.get(SESSION_COOKIE))

    async def api_key(self, plaintext: str) -> Identity:
        parsed = parse_api_key(plaintext.strip())
        if parsed is None:
            raise AuthError("X-API-Key", "malformed API key (expected cs_<id>_<secret>)")
        key_id, secret = parsed
        record = await self.api_keys(key_id)
        if record is None or record.revoked or not secret_matches(secret, record.secret_sha256):
            raise AuthError("X-API-Key", "invalid or revoked API key")
        role = "admin" if record.role == "owner" else record.role  # a key never reaches beyond its workspace
        return Identity("api_key", key_id, record.name or key_id, role, frozenset({record.workspace}))

    def service(self, authorization: str, workspace: str | None) -> Identity:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization", "expected 'Bearer <service token>'")
        if not hmac.compare_digest(token.strip().encode(), self.service_token.encode()):
            raise AuthError("Authorization", "invalid service token")
        if not workspace:
            if self.service_needs_workspace:
                raise AuthError(WORKSPACE_HEADER, "required with a service token")
            return Identity("service", "service", "service", "admin", None)
        if not valid_name(workspace):
            raise AuthError(WORKSPACE_HEADER, "not a valid workspace name", status=400)
        return Identity("service", "service", "service", "admin", frozenset({workspace}))

    async def session(self, cookie: str | None) -> Identity | None:
        """The signed-in user (None when absent, forged, expired, logged out, or the user is disabled)."""
        if self.sessions is None or self.users is None:
            return None
        session = self.sessions.decode(cookie)
        if session is None:
            return None
        user = await self.users(session.user_id)
        if user is None or not session_still_valid(session, active=user.active, epoch=user.session_epoch, ended=user.ended_sessions):
            return None
        return user_identity(user, session)
