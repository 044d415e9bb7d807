"""Issue 17 finding 6 in the UI: the team page disables members, resets passwords, ends sessions and
revokes API keys; /account changes your password and signs you out everywhere."""

from __future__ import annotations

import re

from annotate_testing import BASE, PASSWORD, Annotate


async def _member_id(annotate: Annotate, username: str) -> str:
    members = (await annotate.owner.get(f"{BASE}/default/users")).json()
    return next(m["id"] for m in members if m["username"] == username)


async def test_team_page_member_actions(annotate: Annotate) -> None:
    admin = await annotate.member("boss", "admin")
    ann = await annotate.member("ann")
    ann_id = await _member_id(annotate, "ann")
    page = await admin.get("/team?workspace=default")
    assert page.status_code == 200 and f"/team/default/users/{ann_id}/active" in page.text and 'id="api-keys"' in page.text
    owner_id = (await annotate.owner.get("/api/v1/me")).json()["user_id"]
    assert f"/team/default/users/{owner_id}/active" not in page.text  # no actions on the owner

    assert (await admin.post(f"/team/default/users/{ann_id}/sessions")).status_code == 303
    assert (await ann.get("/api/v1/me")).status_code == 401
    ann = await annotate.login("ann")
    reset = await admin.post(f"/team/default/users/{ann_id}/password", data={"new_password": "set-by-the-admin"})
    assert reset.status_code == 200 and "sessions ended" in reset.text
    assert (await ann.get("/api/v1/me")).status_code == 401
    assert (await admin.post(f"/team/default/users/{ann_id}/active", data={"active": "0"})).status_code == 303
    assert (await annotate.client().post("/api/v1/auth/login", json={"username": "ann", "password": "set-by-the-admin"})).status_code == 401
    assert "Enable" in (await admin.get("/team?workspace=default")).text
    assert (await admin.post(f"/team/default/users/{ann_id}/active", data={"active": "1"})).status_code == 303
    assert (await annotate.login("ann", "set-by-the-admin")).headers["X-CSRF-Token"]
    promoted = await admin.post("/team/default/members", data={"user_id": ann_id, "action": "add", "role": "admin"})
    assert promoted.status_code == 303
    roles = {m["username"]: m["role"] for m in (await annotate.owner.get(f"{BASE}/default/users")).json()}
    assert roles["ann"] == "admin"
    assert (await admin.post(f"/team/default/users/{owner_id}/active", data={"active": "0"})).status_code == 403


async def test_team_page_creates_and_revokes_api_keys(annotate: Annotate) -> None:
    admin = await annotate.member("boss", "admin")
    created = await admin.post("/team/default/api-keys", data={"name": "from-the-page", "role": "annotator"})
    assert created.status_code == 200
    key = re.search(r'<code id="new-key">(cs_[^<]+)</code>', created.text).group(1)  # type: ignore[union-attr]
    holder = annotate.client()
    holder.headers["X-API-Key"] = key
    assert (await holder.get(f"{BASE}/default/datasets")).status_code == 200
    key_id = key.split("_")[1]
    assert (await admin.post(f"/team/default/api-keys/{key_id}/revoke")).status_code == 303
    assert (await holder.get(f"{BASE}/default/datasets")).status_code == 401
    assert "revoked" in (await admin.get("/team?workspace=default")).text


async def test_account_page_changes_password_and_ends_sessions(annotate: Annotate) -> None:
    ann = await annotate.member("ann")
    other_tab = await annotate.login("ann")
    page = await ann.get("/account")
    assert page.status_code == 200 and 'action="/account/password"' in page.text
    wrong = await ann.post("/account/password", data={"current_password": "not-the-password", "new_password": "another-password"})
    assert wrong.status_code == 422 and "wrong password" in wrong.text
    changed = await ann.post("/account/password", data={"current_password": PASSWORD, "new_password": "another-password"})
    assert changed.status_code == 200 and "sign in again" in changed.text
    assert (await other_tab.get("/api/v1/me")).status_code == 401
    again = await annotate.login("ann", "another-password")
    assert (await again.post("/account/sessions")).status_code == 200
    assert (await again.get("/api/v1/me")).status_code == 401
