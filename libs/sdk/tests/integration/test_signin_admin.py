"""The SDK signed in as a user (annotate's login: session cookie + CSRF token) manages people, memberships and
API keys, against the real annotate service; an API key never does (SECURITY.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from claystream import ClaystreamError, Client, Forbidden, Unauthorized

from .conftest import OWNER, OWNER_PASSWORD, WORKSPACE

PASSWORD = "a-long-password-1"


def refused(call: Callable[[], Any], error: type[Exception] = Unauthorized) -> Callable[[], bool]:
    """A probe for ``poll``: True once ``call`` raises ``error`` (a change made elsewhere counts within seconds)."""

    def probe() -> bool:
        try:
            call()
        except error:
            return True
        return False

    return probe


def test_owner_creates_a_member_changes_its_role_and_disables_it(owner: Client, services: SimpleNamespace, poll: Any) -> None:
    assert owner.user is not None and owner.user["username"] == OWNER and owner.me()["kind"] == "user"
    name = f"m{uuid.uuid4().hex[:8]}"
    created = owner.users.create(name, PASSWORD)
    assert created["role"] == "annotator" and created["active"] is True
    assert name in [u["username"] for u in owner.users.list()]

    with Client.login(services.annotate, name, PASSWORD) as member:
        assert member.workspace == WORKSPACE  # their one workspace, from annotate's /me
        with pytest.raises(Forbidden, match="admin"):
            member.users.list()  # an annotator manages nobody
        assert owner.users.set_role(name, "admin")["memberships"][WORKSPACE] == "admin"
        assert owner.users.get(name)["role"] == "admin"
        assert name in [u["username"] for u in poll(lambda: _list_or_none(member), what="the new admin role")]

        disabled = owner.users.disable(name)
        assert disabled["active"] is False
        poll(refused(member.users.list), what="the disabled user's session to end")
    with pytest.raises(Unauthorized):
        Client.login(services.annotate, name, PASSWORD)

    owner.users.enable(created)  # a user dict names the user too
    owner.users.set_password(created["id"], "another-long-password-2")
    with pytest.raises(Unauthorized):
        Client.login(services.annotate, name, PASSWORD)
    with Client.login(services.annotate, name, "another-long-password-2", workspace=WORKSPACE) as again:
        assert again.me()["memberships"] == {WORKSPACE: "admin"}


def _list_or_none(member: Client) -> list[dict[str, Any]] | None:
    try:
        return member.users.list()
    except Forbidden:
        return None


def test_owner_creates_lists_and_revokes_an_api_key(owner: Client, services: SimpleNamespace, poll: Any) -> None:
    name = f"k{uuid.uuid4().hex[:8]}"
    key = owner.workspaces.create_api_key(name, role="annotator")
    assert key["workspace"] == WORKSPACE and key["api_key"].startswith("cs_")
    listed = {k["key_id"]: k for k in owner.workspaces.list_api_keys()}
    assert listed[key["key_id"]]["name"] == name and listed[key["key_id"]]["revoked"] is False
    assert all("api_key" not in k and "secret_sha256" not in k for k in listed.values())
    with Client(services.ingest, key["api_key"], annotate_url=services.annotate) as keyed:
        assert keyed.workspace == WORKSPACE and isinstance(keyed.datasets.list(), list)
        owner.workspaces.revoke_api_key(key["key_id"])
        assert {k["key_id"]: k for k in owner.workspaces.list_api_keys()}[key["key_id"]]["revoked"] is True
        poll(refused(keyed.datasets.list), what="the revoked key to be refused")


def test_logout_ends_the_session_even_for_a_copy_of_its_cookie(services: SimpleNamespace) -> None:
    signed_in = Client.login(services.annotate, OWNER, OWNER_PASSWORD, workspace=WORKSPACE)
    with signed_in:
        assert signed_in.users.list()
        copied = httpx.Cookies(signed_in._annotate_http().client.cookies)  # what a thief could have taken
        assert len(copied) == 1
        signed_in.logout()
        assert signed_in.user is None
        with pytest.raises(Unauthorized):
            signed_in.users.list()
        with pytest.raises(ClaystreamError, match="not signed in"):
            signed_in.logout()
    with httpx.Client(base_url=services.annotate, cookies=copied) as thief:
        assert thief.get("/api/v1/me").status_code == 401


def test_an_api_key_gets_forbidden_with_the_servers_reason(client: Client, owner: Client) -> None:
    member = owner.users.create(f"m{uuid.uuid4().hex[:8]}", PASSWORD)
    for call in (client.users.list, lambda: client.users.disable(member["id"]), lambda: client.users.set_role(member["id"], "admin"),
                 lambda: client.workspaces.create_api_key("nope"), client.workspaces.list_api_keys,
                 lambda: client.users.set_password(member["id"], "x-long-password-3")):
        with pytest.raises(Forbidden, match="API keys cannot manage users or API keys"):
            call()
    assert owner.users.get(member["username"])["active"] is True
    with pytest.raises(ClaystreamError, match="not signed in"):
        client.logout()
