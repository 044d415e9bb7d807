from __future__ import annotations

from annotate_testing import OWNER, OWNER_PASSWORD, Annotate
from claystream_common.web_sessions import SESSION_COOKIE


async def test_login_sets_a_hardened_cookie_and_me_answers(annotate: Annotate) -> None:
    client = annotate.client()
    answer = await client.post("/api/v1/auth/login", json={"username": OWNER, "password": OWNER_PASSWORD})
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"].lower()
    assert SESSION_COOKIE in cookie and "httponly" in cookie and "samesite=lax" in cookie
    me = await client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["role"] == "owner" and me.json()["csrf_token"] == answer.json()["csrf_token"]


async def test_wrong_password_then_lockout(annotate: Annotate) -> None:
    client = annotate.client()
    limit = annotate.deps.settings.login_max_failures
    for _ in range(limit):
        answer = await client.post("/api/v1/auth/login", json={"username": "nobody-here", "password": "nope"})
        assert answer.status_code == 401
    locked = await client.post("/api/v1/auth/login", json={"username": "nobody-here", "password": "nope"})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    for spaced in (" nobody-here", "nobody-here ", "\tnobody-here\n"):  # the same account: the same lockout
        answer = await client.post("/api/v1/auth/login", json={"username": spaced, "password": "nope"})
        assert answer.status_code == 429, spaced


async def test_without_credentials_401_and_forged_cookie_refused(annotate: Annotate) -> None:
    client = annotate.client()
    assert (await client.get("/api/v1/me")).status_code == 401
    client.cookies.set(SESSION_COOKIE, "forged.value.here")
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_logout_clears_the_cookie(annotate: Annotate) -> None:
    client = await annotate.login(OWNER, OWNER_PASSWORD)
    answer = await client.post("/api/v1/auth/logout")
    assert answer.status_code == 204
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_state_changes_need_the_csrf_token(annotate: Annotate) -> None:
    client = await annotate.login(OWNER, OWNER_PASSWORD)
    token = client.headers.pop("X-CSRF-Token")
    refused = await client.post("/api/v1/workspaces", json={"name": "csrf-test"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = await client.post("/api/v1/workspaces", json={"name": "csrf-test"}, headers={"X-CSRF-Token": "wrong"})
    assert wrong.status_code == 403
    ok = await client.post("/api/v1/workspaces", json={"name": "csrf-test"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201
    assert (await client.get("/api/v1/workspaces")).status_code == 200, "reads need no token"


async def test_csrf_token_accepted_from_a_form_field(annotate: Annotate) -> None:
    client = await annotate.login(OWNER, OWNER_PASSWORD)
    token = client.headers.pop("X-CSRF-Token")
    assert (await client.post("/api/v1/auth/logout", data={"csrf_token": "wrong"})).status_code == 403
    assert (await client.post("/api/v1/auth/logout", data={"csrf_token": token})).status_code == 204
