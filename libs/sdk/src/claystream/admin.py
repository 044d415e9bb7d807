"""People, memberships and API keys of workspaces, on the annotate service.

Annotate lets only signed-in admins and owners (and the service token) manage people and keys, never an
API key (SECURITY.md): use a signed-in client, ``Client.login(annotate_url, username, password)``.  With
an API key every managing call raises :class:`~claystream.errors.Forbidden` with the server's reason.

A user is named by its username, its id, or the dict these calls return."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from claystream.client import Client

UserRef = str | dict[str, Any]


def _q(value: str) -> str:
    return quote(value, safe="")


class _WorkspaceScoped:
    def __init__(self, client: Client) -> None:
        self.client = client

    def _ws(self, workspace: str | None) -> str:
        return f"/api/v1/workspaces/{_q(workspace or self.client.workspace)}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.annotate_call(method, path, body=body)

    def _user_id(self, user: UserRef, workspace: str | None) -> str:
        """The id of ``user``: a dict's ``id``; else the member of ``workspace`` with that username or id; else
        the string itself as an id (an owner may name a user of another workspace; the server answers 404)."""
        if isinstance(user, dict):
            return str(user["id"])
        for member in self._call("GET", f"{self._ws(workspace)}/users"):
            if user in (member["username"], member["id"]):
                return str(member["id"])
        return user


class Users(_WorkspaceScoped):
    """``client.users``: members of a workspace (the client's workspace unless ``workspace=`` is given)."""

    def list(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """Every member: ``id``, ``username``, ``role`` (there), ``workspaces``, ``memberships``, ``active``."""
        return list(self._call("GET", f"{self._ws(workspace)}/users"))

    def get(self, user: str, workspace: str | None = None) -> dict[str, Any]:
        """The member with this username or id (:class:`~claystream.errors.NotFound` otherwise)."""
        from claystream.errors import NotFound

        for member in self.list(workspace):
            if user in (member["username"], member["id"]):
                return member
        raise NotFound(404, {"detail": f"user {user} not found"}, method="GET", url=f"{self._ws(workspace)}/users")

    def create(self, username: str, password: str, *, role: str = "annotator", workspace: str | None = None) -> dict[str, Any]:
        """A new user, member of the workspace with ``role`` (``annotator``, ``admin``; ``owner`` by owners)."""
        body = {"username": username, "password": password, "role": role}
        return dict(self._call("POST", f"{self._ws(workspace)}/users", body))

    def disable(self, user: UserRef, workspace: str | None = None) -> dict[str, Any]:
        """Refuse the user's logins and end every session of theirs."""
        return dict(self._call("POST", f"{self._member(user, workspace)}/disable"))

    def enable(self, user: UserRef, workspace: str | None = None) -> dict[str, Any]:
        return dict(self._call("POST", f"{self._member(user, workspace)}/enable"))

    def set_password(self, user: UserRef, new_password: str, workspace: str | None = None) -> None:
        """An admin's reset of a member's password (ends every session of theirs)."""
        self._call("PUT", f"{self._member(user, workspace)}/password", {"new_password": new_password})

    def end_sessions(self, user: UserRef, workspace: str | None = None) -> None:
        """Sign the member out everywhere."""
        self._call("POST", f"{self._member(user, workspace)}/sessions:end")

    def set_role(self, user: UserRef, role: str, workspace: str | None = None) -> dict[str, Any]:
        """The member's role in the workspace (``annotator`` or ``admin``; up to your own role there)."""
        return self.client.workspaces.add_member(user, role=role, workspace=workspace)

    def _member(self, user: UserRef, workspace: str | None) -> str:
        return f"{self._ws(workspace)}/users/{_q(self._user_id(user, workspace))}"


class Workspaces(_WorkspaceScoped):
    """``client.workspaces``: the visible workspaces, members, and API keys."""

    def list(self) -> list[str]:
        return list(self._call("GET", "/api/v1/workspaces"))

    def create(self, name: str) -> str:
        """A new workspace (owners only)."""
        return str(self._call("POST", "/api/v1/workspaces", {"name": name})["name"])

    def add_member(self, user: UserRef, *, role: str | None = None, workspace: str | None = None) -> dict[str, Any]:
        """Make ``user`` a member (owners add users from elsewhere), or change their ``role`` there."""
        user_id = self._user_id(user, workspace)
        return dict(self._call("PUT", f"{self._ws(workspace)}/members/{_q(user_id)}", {"role": role}))

    def remove_member(self, user: UserRef, workspace: str | None = None) -> None:
        self._call("DELETE", f"{self._ws(workspace)}/members/{_q(self._user_id(user, workspace))}")

    def create_api_key(self, name: str, *, role: str = "annotator", workspace: str | None = None) -> dict[str, Any]:
        """A new key: ``key_id``, ``api_key`` (the plaintext, shown once), ``workspace``, ``role``."""
        return dict(self._call("POST", f"{self._ws(workspace)}/api-keys", {"name": name, "role": role}))

    def list_api_keys(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """The workspace's keys (``key_id``, ``name``, ``role``, ``revoked``, ``created_at``; never secrets)."""
        return list(self._call("GET", f"{self._ws(workspace)}/api-keys"))

    def revoke_api_key(self, key_id: str, workspace: str | None = None) -> None:
        """Every service refuses the key from its next lookup (ingest within its key cache, about 10 s)."""
        self._call("DELETE", f"{self._ws(workspace)}/api-keys/{_q(key_id)}")
