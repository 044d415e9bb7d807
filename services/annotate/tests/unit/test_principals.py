from __future__ import annotations

import pytest
from claystream_annotate.services.errors import Forbidden, NotFound
from claystream_annotate.services.principals import Principal, Role, service_principal


def principal(role: Role, workspaces: frozenset[str] | None) -> Principal:
    return Principal(user_id="x", username="x", role=role, workspaces=workspaces)


@pytest.mark.parametrize(
    ("role", "workspaces", "workspace", "needed", "outcome"),
    [
        (Role.OWNER, None, "anything", Role.OWNER, None),
        (Role.ADMIN, frozenset({"a"}), "a", Role.ADMIN, None),
        (Role.ADMIN, frozenset({"a"}), "b", Role.ANNOTATOR, NotFound),
        (Role.ADMIN, frozenset({"a"}), "a", Role.OWNER, Forbidden),
        (Role.ANNOTATOR, frozenset({"a"}), "a", Role.ANNOTATOR, None),
        (Role.ANNOTATOR, frozenset({"a"}), "a", Role.ADMIN, Forbidden),
        (Role.ANNOTATOR, frozenset({"a"}), "b", Role.ANNOTATOR, NotFound),
    ],
)
def test_require(role: Role, workspaces: frozenset[str] | None, workspace: str, needed: Role, outcome: type[Exception] | None) -> None:
    actor = principal(role, workspaces)
    if outcome is None:
        actor.require(workspace, needed)
    else:
        with pytest.raises(outcome):
            actor.require(workspace, needed)


def test_service_principal_is_admin_of_one_workspace() -> None:
    actor = service_principal("w")
    actor.require("w", Role.ADMIN)
    with pytest.raises(NotFound):
        actor.require("other")
