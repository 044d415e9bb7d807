from __future__ import annotations

from annotate_testing import BASE, Annotate


async def test_owner_creates_workspaces_members_and_api_keys(annotate: Annotate) -> None:
    assert (await annotate.owner.post(BASE, json={"name": "Bad Name"})).status_code == 422
    await annotate.workspace("team-b")
    assert "team-b" in (await annotate.owner.get(BASE)).json()
    admin = await annotate.member("boss-b", role="admin", workspace="team-b")
    assert (await admin.get(BASE)).json() == ["team-b"]
    created = await admin.post(f"{BASE}/team-b/users", json={"username": "ann-b", "password": "long-password", "role": "annotator"})
    assert created.status_code == 201 and created.json()["workspaces"] == ["team-b"]
    assert (await admin.post(f"{BASE}/team-b/users", json={"username": "ann-b", "password": "long-password"})).status_code == 409
    assert (await admin.post(f"{BASE}/team-b/users", json={"username": "x", "password": "long-password", "role": "owner"})).status_code == 403
    assert (await admin.post(BASE, json={"name": "mine"})).status_code == 403
    assert (await admin.get(f"{BASE}/default/users")).status_code == 404
    members = (await admin.get(f"{BASE}/team-b/users")).json()
    assert {m["username"] for m in members} == {"boss-b", "ann-b"}
    user_id = next(m["id"] for m in members if m["username"] == "ann-b")
    assert (await admin.delete(f"{BASE}/team-b/members/{user_id}")).status_code == 204
    assert (await admin.put(f"{BASE}/team-b/members/{user_id}", json={"role": "annotator"})).status_code == 404  # no longer a member
    assert (await annotate.owner.put(f"{BASE}/team-b/members/{user_id}", json={"role": "annotator"})).json()["workspaces"] == ["team-b"]
    key = await admin.post(f"{BASE}/team-b/api-keys", json={"name": "sdk", "role": "annotator"})
    assert key.status_code == 201 and key.json()["api_key"].startswith("cs_")
    with_key = annotate.client()
    with_key.headers["X-API-Key"] = key.json()["api_key"]
    assert (await with_key.get(f"{BASE}/team-b/datasets")).status_code == 200
    assert (await with_key.get(f"{BASE}/default/datasets")).status_code == 404
    with_key.headers["X-API-Key"] = key.json()["api_key"][:-3] + "xyz"
    assert (await with_key.get(f"{BASE}/team-b/datasets")).status_code == 401
