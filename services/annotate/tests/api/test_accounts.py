"""Issue 17 finding 6: revoke API keys, disable users, change passwords, end sessions server-side."""

from __future__ import annotations

from annotate_testing import BASE, PASSWORD, Annotate
from claystream_common.web_sessions import SESSION_COOKIE


async def _id(annotate: Annotate, workspace: str, username: str) -> str:
    members = (await annotate.owner.get(f"{BASE}/{workspace}/users")).json()
    return next(m["id"] for m in members if m["username"] == username)


async def _copy(annotate: Annotate, client) -> object:  # type: ignore[no-untyped-def]
    """A second client presenting the same session cookie (what a stolen cookie would be)."""
    thief = annotate.client()
    thief.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    return thief


async def test_revoked_api_key_is_refused_and_listed_as_revoked(annotate: Annotate) -> None:
    made = (await annotate.owner.post(f"{BASE}/default/api-keys", json={"name": "leaky", "role": "admin"})).json()
    holder = annotate.client()
    holder.headers["X-API-Key"] = made["api_key"]
    assert (await holder.get(f"{BASE}/default/datasets")).status_code == 200
    assert (await holder.delete(f"{BASE}/default/api-keys/{made['key_id']}")).status_code == 403  # a key cannot revoke keys
    assert (await annotate.owner.delete(f"{BASE}/default/api-keys/{made['key_id']}")).status_code == 204
    assert (await holder.get(f"{BASE}/default/datasets")).status_code == 401
    listed = (await annotate.owner.get(f"{BASE}/default/api-keys")).json()
    assert [k["revoked"] for k in listed if k["key_id"] == made["key_id"]] == [True]
    assert "secret" not in str(listed) and made["api_key"] not in str(listed)
    assert (await annotate.owner.delete(f"{BASE}/default/api-keys/nope")).status_code == 404


async def test_disabled_user_cannot_log_in_and_loses_sessions(annotate: Annotate) -> None:
    ann = await annotate.member("ann")
    thief = await _copy(annotate, ann)
    ann_id = await _id(annotate, "default", "ann")
    disabled = await annotate.owner.post(f"{BASE}/default/users/{ann_id}/disable")
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert (await ann.get("/api/v1/me")).status_code == 401
    assert (await thief.get("/api/v1/me")).status_code == 401  # type: ignore[attr-defined]
    refused = await annotate.client().post("/api/v1/auth/login", json={"username": "ann", "password": PASSWORD})
    assert refused.status_code == 401
    assert (await annotate.owner.post(f"{BASE}/default/users/{ann_id}/enable")).status_code == 200
    assert (await (await annotate.login("ann")).get("/api/v1/me")).status_code == 200


async def test_admin_reset_password_ends_sessions_and_is_scoped(annotate: Annotate) -> None:
    await annotate.workspace("other")
    admin = await annotate.member("boss", "admin")
    ann = await annotate.member("ann")
    stranger = await annotate.member("stranger", "annotator", "other")
    ann_id, stranger_id = await _id(annotate, "default", "ann"), await _id(annotate, "other", "stranger")
    owner_id = (await annotate.owner.get("/api/v1/me")).json()["user_id"]
    url = f"{BASE}/default/users/{ann_id}/password"
    assert (await admin.put(url, json={"new_password": "short"})).status_code == 422
    assert (await admin.put(url, json={"new_password": "brand-new-password"})).status_code == 204
    assert (await ann.get("/api/v1/me")).status_code == 401
    assert (await annotate.client().post("/api/v1/auth/login", json={"username": "ann", "password": PASSWORD})).status_code == 401
    assert (await annotate.login("ann", "brand-new-password")).headers.get("X-CSRF-Token")
    # an admin of default acts neither on another workspace's user nor on the owner
    for target in (stranger_id, owner_id):
        for path, body in (("/password", {"new_password": "brand-new-password"}), ("/disable", None), ("/sessions:end", None)):
            verb = admin.put if path == "/password" else admin.post
            answer = await verb(f"{BASE}/default/users/{target}{path}", json=body)
            assert answer.status_code in (403, 404), (target, path, answer.status_code)
    assert (await stranger.get("/api/v1/me")).status_code == 200
    assert (await annotate.owner.get("/api/v1/me")).status_code == 200


async def test_own_password_change_needs_the_current_one_and_ends_every_session(annotate: Annotate) -> None:
    ann = await annotate.member("ann")
    other_tab = await annotate.login("ann")
    wrong = await ann.put("/api/v1/me/password", json={"current_password": "not-it-at-all", "new_password": "another-password"})
    assert wrong.status_code == 422 and "current_password" in wrong.text
    assert (await ann.put("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "another-password"})).status_code == 204
    assert (await ann.get("/api/v1/me")).status_code == 401
    assert (await other_tab.get("/api/v1/me")).status_code == 401
    assert (await (await annotate.login("ann", "another-password")).get("/api/v1/me")).status_code == 200


async def test_logout_ends_the_session_server_side(annotate: Annotate) -> None:
    ann = await annotate.member("ann")
    other_tab = await annotate.login("ann")
    thief = await _copy(annotate, ann)
    assert (await ann.post("/api/v1/auth/logout")).status_code == 204
    assert (await thief.get("/api/v1/me")).status_code == 401  # type: ignore[attr-defined]
    assert (await other_tab.get("/api/v1/me")).status_code == 200  # only that one session ended


async def test_end_all_sessions(annotate: Annotate) -> None:
    ann = await annotate.member("ann")
    other_tab = await annotate.login("ann")
    assert (await ann.post("/api/v1/me/sessions:end")).status_code == 204
    assert (await ann.get("/api/v1/me")).status_code == 401 and (await other_tab.get("/api/v1/me")).status_code == 401
    again = await annotate.login("ann")
    ann_id = await _id(annotate, "default", "ann")
    assert (await annotate.owner.post(f"{BASE}/default/users/{ann_id}/sessions:end")).status_code == 204
    assert (await again.get("/api/v1/me")).status_code == 401
    key = (await annotate.owner.post(f"{BASE}/default/api-keys", json={"name": "k", "role": "admin"})).json()["api_key"]
    keyed = annotate.client()
    keyed.headers["X-API-Key"] = key
    assert (await keyed.post("/api/v1/me/sessions:end")).status_code == 403
    assert (await keyed.post(f"{BASE}/default/users/{ann_id}/disable")).status_code == 403


async def test_an_admin_changes_no_account_that_belongs_to_a_workspace_they_do_not_administer(annotate: Annotate) -> None:
    """An admin of default reset the password of someone who was also admin of another workspace, signed in as
    them there and minted that workspace's admin API key."""
    await annotate.workspace("elsewhere")
    admin = await annotate.member("deputy", "admin")
    shared = await annotate.member("shared", "admin", "elsewhere")
    shared_id = await _id(annotate, "elsewhere", "shared")
    assert (await annotate.owner.put(f"{BASE}/default/members/{shared_id}", json={"role": "annotator"})).status_code == 200
    for path, body in (("/password", {"new_password": "taken-over-password"}), ("/disable", None), ("/sessions:end", None)):
        verb = admin.put if path == "/password" else admin.post
        answer = await verb(f"{BASE}/default/users/{shared_id}{path}", json=body)
        assert answer.status_code == 403 and "elsewhere" not in answer.text, (path, answer.status_code, answer.text)
    assert (await shared.get("/api/v1/me")).status_code == 200  # still signed in, password unchanged
    assert (await annotate.owner.put(f"{BASE}/default/users/{shared_id}/password", json={"new_password": "owner-set-password"})).status_code == 204


async def test_a_username_that_differs_from_another_only_in_case_is_taken_on_the_real_store(annotate: Annotate) -> None:
    await annotate.member("casey")
    for lookalike in ("Casey", "CASEY", "cAsEy"):
        answer = await annotate.owner.post(f"{BASE}/default/users", json={"username": lookalike, "password": "a-long-password-1", "role": "annotator"})
        assert answer.status_code == 409, (lookalike, answer.text)
    other = await annotate.owner.post(f"{BASE}/default/users", json={"username": "case.y", "password": "a-long-password-1", "role": "annotator"})
    assert other.status_code == 201, other.text  # a regex character in a name is a character, not a pattern
