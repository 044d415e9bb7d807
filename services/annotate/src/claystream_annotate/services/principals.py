"""Who is calling, and what their role lets them do in a workspace.

Roles are ordered: annotator < admin < owner.  Owners reach every workspace; admins and
annotators only the workspaces they are members of (anything else is *not found*, so a
workspace's existence is not revealed).  API keys are scoped to one workspace with the key's
role; service calls (service token + ``X-Claystream-Workspace``) act as admin there.
"""

from __future__ import annotations

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
    """The authenticated caller.  ``workspaces`` is None for owners (every workspace)."""

    user_id: str
    username: str
    role: Role
    workspaces: frozenset[str] | None = field(default_factory=frozenset)
    kind: str = "user"  # user | api_key | service
    csrf_token: str | None = None

    def can_see(self, workspace: str) -> bool:
        return self.workspaces is None or workspace in self.workspaces

    def require(self, workspace: str, role: Role = Role.ANNOTATOR) -> None:
        """NotFound when the workspace is not theirs, Forbidden when the role is too low."""
        if not self.can_see(workspace):
            raise NotFound(f"workspace {workspace} not found")
        if not self.role.at_least(role):
            raise Forbidden(f"needs role {role.value} in workspace {workspace} (you are {self.role.value})")

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER


def service_principal(workspace: str) -> Principal:
    return Principal(user_id="service", username="service", role=Role.ADMIN, workspaces=frozenset({workspace}), kind="service")
