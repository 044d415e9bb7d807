"""Who is calling, and what their role lets them do in a workspace.

Roles are ordered: annotator < admin < owner.  Owner is a global role: owners reach every
workspace.  Everyone else holds a role *per workspace* (a membership): admin of one workspace
says nothing about another, and a workspace they are not a member of is *not found*, so its
existence is not revealed.  API keys are scoped to one workspace with the key's
role; service calls (service token + ``X-Claystream-Workspace``) act as admin there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from claystream_annotate.services.errors import Forbidden, NotFound


class Role(StrEnum):
    ANNOTATOR = "annotator"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return {"annotator": 0, "admin": 1, "owner": 2}[self.value]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller.  ``workspaces`` is None for owners (every workspace).

    ``role`` is the highest role held anywhere (what the UI shows in its navigation);
    decisions about one workspace use :meth:`role_in`, which reads ``roles`` (workspace → role)
    when given, else ``role`` in each of ``workspaces``."""

    user_id: str
    username: str
    role: Role
    workspaces: frozenset[str] | None = field(default_factory=frozenset)
    kind: str = "user"  # user | api_key | service
    csrf_token: str | None = None
    roles: Mapping[str, Role] | None = None

    def can_see(self, workspace: str) -> bool:
        return self.workspaces is None or workspace in self.workspaces

    def role_in(self, workspace: str) -> Role | None:
        """The caller's role in ``workspace`` (None when they are not a member)."""
        if not self.can_see(workspace):
            return None
        if self.roles is not None and self.workspaces is not None:
            return self.roles.get(workspace)
        return self.role

    def is_admin_of(self, workspace: str) -> bool:
        role = self.role_in(workspace)
        return role is not None and role.at_least(Role.ADMIN)

    def administered(self, every_workspace: list[str]) -> list[str]:
        """The workspaces (of ``every_workspace``) the caller administers."""
        return sorted(w for w in every_workspace if self.is_admin_of(w))

    def require(self, workspace: str, role: Role = Role.ANNOTATOR) -> None:
        """NotFound when the workspace is not theirs, Forbidden when the role is too low."""
        held = self.role_in(workspace)
        if held is None:
            raise NotFound(f"workspace {workspace} not found")
        if not held.at_least(role):
            raise Forbidden(f"needs role {role.value} in workspace {workspace} (you are {held.value})")

    def require_manager(self, workspace: str) -> None:
        """Manage people and API keys of ``workspace``: its admins (signed in), owners, services; never an API key."""
        self.require(workspace, Role.ADMIN)
        if self.kind == "api_key":
            raise Forbidden("API keys cannot manage users or API keys: sign in, or use the service token")

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER


def service_principal(workspace: str) -> Principal:
    return Principal(user_id="service", username="service", role=Role.ADMIN, workspaces=frozenset({workspace}), kind="service")
