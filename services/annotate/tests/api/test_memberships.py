"""Issue 17 finding 1: roles are per workspace; an admin of one workspace manages only its members."""

from __future__ import annotations

from annotate_testing import BASE, DATASET, Annotate


async def _user_id(client, workspace: str, username: str) -> str:  # type: ignore[no-untyped-def]
    members = (await client.get(f"{BASE}/{workspace}/users")).json()
    return next(m["id"] for m in members if m["username"] == username)


async def test_admin_of_a_cannot_promote_b_annotator_anywhere(annotate: Annotate) -> None:
    for name in ("ws-a", "ws-b"):
        await annotate.workspace(name)
        await annotate.dataset(name)
    admin_a = await annotate.member("admin-a", "admin", "ws-a")
    only_b = await annotate.member("only-b", "annotator", "ws-b")
    only_b_id = await _user_id(annotate.owner, "ws-b", "only-b")
    # the scenario: B's annotator is nobody admin-a may manage
    answer = await admin_a.put(f"{BASE}/ws-a/members/{only_b_id}", json={"role": "admin"})
    assert answer.status_code == 404, answer.text
    assert (await only_b.get(f"{BASE}/ws-a/datasets")).status_code == 404
    assert (await only_b.patch(f"{BASE}/ws-b/datasets/{DATASET['name']}", json={"guidelines": "x"})).status_code == 403

    # a user shared by both workspaces: promoted in A, still an annotator in B
    shared = await annotate.member("shared", "annotator", "ws-b")
    shared_id = await _user_id(annotate.owner, "ws-b", "shared")
    assert (await annotate.owner.put(f"{BASE}/ws-a/members/{shared_id}", json={"role": "annotator"})).status_code == 200
    promoted = await admin_a.put(f"{BASE}/ws-a/members/{shared_id}", json={"role": "admin"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert promoted.json()["memberships"] == {"ws-a": "admin"}, "ws-b's name leaked to admin-a"
    assert (await shared.patch(f"{BASE}/ws-a/datasets/{DATASET['name']}", json={"guidelines": "by shared"})).status_code == 200
    assert (await shared.patch(f"{BASE}/ws-b/datasets/{DATASET['name']}", json={"guidelines": "by shared"})).status_code == 403
    assert (await shared.get(f"{BASE}/ws-b/users")).status_code == 403
    # admin-a removes shared from A: B is untouched
    assert (await admin_a.delete(f"{BASE}/ws-a/members/{shared_id}")).status_code == 204
    assert (await shared.get(f"{BASE}/ws-b/datasets")).status_code == 200
    assert (await admin_a.delete(f"{BASE}/ws-a/members/{only_b_id}")).status_code == 404


async def test_admin_cannot_demote_the_owner(annotate: Annotate) -> None:
    await annotate.workspace("ws-a")
    admin_a = await annotate.member("admin-a", "admin", "ws-a")
    owner_id = (await annotate.owner.get("/api/v1/me")).json()["user_id"]
    for verb, body in (("put", {"role": "annotator"}), ("put", {}), ("delete", None)):
        request = getattr(admin_a, verb)
        answer = await (request(f"{BASE}/ws-a/members/{owner_id}", json=body) if verb == "put" else request(f"{BASE}/ws-a/members/{owner_id}"))
        assert answer.status_code in (403, 404), (verb, body, answer.status_code, answer.text)
    assert (await annotate.owner.put(f"{BASE}/ws-a/members/{owner_id}", json={"role": "annotator"})).status_code == 403
    me = (await annotate.owner.get("/api/v1/me")).json()
    assert me["role"] == "owner" and me["workspaces"] is None
    assert (await annotate.owner.post(BASE, json={"name": "still-owner"})).status_code == 201


async def test_admin_cannot_grant_beyond_own_role_in_that_workspace(annotate: Annotate) -> None:
    for name in ("ws-a", "ws-b"):
        await annotate.workspace(name)
    # admin of B, annotator of A: may not create admins in A
    boss = await annotate.member("boss", "admin", "ws-b")
    boss_id = await _user_id(annotate.owner, "ws-b", "boss")
    assert (await annotate.owner.put(f"{BASE}/ws-a/members/{boss_id}", json={"role": "annotator"})).status_code == 200
    created = await boss.post(f"{BASE}/ws-a/users", json={"username": "evil", "password": "long-password", "role": "admin"})
    assert created.status_code in (403, 404), created.text
    assert (await boss.get(f"{BASE}/ws-a/users")).status_code == 403


async def test_member_list_hides_other_workspaces(annotate: Annotate) -> None:
    for name in ("ws-a", "secret-project"):
        await annotate.workspace(name)
    admin_a = await annotate.member("admin-a", "admin", "ws-a")
    await annotate.member("shared", "annotator", "secret-project")
    shared_id = await _user_id(annotate.owner, "secret-project", "shared")
    await annotate.owner.put(f"{BASE}/ws-a/members/{shared_id}", json={})
    listed = (await admin_a.get(f"{BASE}/ws-a/users")).text
    assert "shared" in listed and "secret-project" not in listed
    page = await admin_a.get("/team?workspace=ws-a")
    assert page.status_code == 200 and "shared" in page.text and "secret-project" not in page.text
