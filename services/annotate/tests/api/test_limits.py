"""Issue 17 finding 9: annotate limits request bodies (the login form before it is parsed)."""

from __future__ import annotations

from annotate_testing import BASE, Annotate


async def test_login_bodies_are_limited_before_parsing(annotate: Annotate) -> None:
    client = annotate.client()
    huge = "p" * 20_000
    assert (await client.post("/login", data={"username": "owner", "password": huge, "csrf_token": "x"})).status_code == 413
    assert (await client.post("/api/v1/auth/login", json={"username": "owner", "password": huge})).status_code == 413
    assert (await client.post("/api/v1/auth/login", json={"username": "owner", "password": "wrong-password"})).status_code == 401


async def test_every_body_is_limited(annotate: Annotate) -> None:
    big = {"name": "big", "fields": [{"name": "text"}], "guidelines": "g" * (3 * 1024 * 1024),
           "questions": [{"name": "s", "type": "label", "labels": ["a", "b"]}]}
    answer = await annotate.owner.post(f"{BASE}/default/datasets", json=big)
    assert answer.status_code == 413 and "body" in answer.text
