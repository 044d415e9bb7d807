"""Whose answers a response-status filter looks at (mine / any) and what "any" matches."""

from __future__ import annotations

import pytest
from claystream_annotate.services.errors import Forbidden, Invalid
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.response_scope import any_status_matches, record_matches, resolve_scope


def principal(role: Role, kind: str = "user") -> Principal:
    return Principal(user_id="u", username="u", role=role, workspaces=frozenset({"w"}), kind=kind)


def test_defaults_any_for_admin_keys_and_services_mine_for_people() -> None:
    assert resolve_scope(principal(Role.ADMIN, "api_key"), "w", None) == "any"
    assert resolve_scope(principal(Role.ADMIN, "service"), "w", "") == "any"
    assert resolve_scope(principal(Role.ANNOTATOR, "api_key"), "w", None) == "mine"
    assert resolve_scope(principal(Role.ADMIN), "w", None) == "mine"
    assert resolve_scope(principal(Role.ADMIN), "w", "any") == "any"
    with pytest.raises(Forbidden):
        resolve_scope(principal(Role.ANNOTATOR), "w", "any")
    with pytest.raises(Invalid):
        resolve_scope(principal(Role.ADMIN), "w", "everyone")


def test_any_status_matches() -> None:
    assert any_status_matches(["draft", "submitted"], "submitted")
    assert not any_status_matches(["draft"], "submitted")
    assert any_status_matches([], "pending") and any_status_matches([None], "pending")
    assert not any_status_matches(["discarded"], "pending")
    assert record_matches({"user_status": {"a": "draft", "b": "submitted"}}, "draft")
    assert record_matches({}, "pending")
