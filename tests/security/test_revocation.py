"""Revocation reaches every service that authenticates (issue 17 finding 6 and the monitor low):
a revoked API key, a disabled user, a logged-out or expired session stop working in annotate, ingest,
trainer and the monitor, without waiting for anything but ingest's key cache (0 s here)."""

from __future__ import annotations

import time

import pytest
from authz_stack import PASSWORD, SECRET, SESSION_MAX_AGE_S, WORKSPACE, Stack
from claystream_common.web_sessions import SESSION_COOKIE, SessionCodec, new_csrf_token

pytestmark = [pytest.mark.slow]
BASE = f"/api/v1/workspaces/{WORKSPACE}"
KEY_READS = {"annotate": f"{BASE}/datasets", "trainer": "/api/v1/models/reviews/status", "monitor": "/api/v1/models",
             "ingest": "/api/v1/me"}


async def test_a_revoked_key_is_refused_by_every_service(stack: Stack) -> None:
    made = (await stack.as_owner("POST", f"{BASE}/api-keys", {"name": "revoke-me", "role": "admin"})).json()
    stack.headers["revoke_me"] = {"X-API-Key": made["api_key"]}
    for service, url in KEY_READS.items():
        assert (await stack.call(service, "GET", url, "revoke_me")).status_code == 200, service
    assert (await stack.as_owner("DELETE", f"{BASE}/api-keys/{made['key_id']}")).status_code == 204
    for service, url in KEY_READS.items():
        assert (await stack.call(service, "GET", url, "revoke_me")).status_code == 401, service


async def _session(stack: Stack, username: str) -> dict[str, str]:
    answer = await stack.clients["annotate"].post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    cookie = answer.cookies[SESSION_COOKIE]
    stack.clients["annotate"].cookies.clear()
    return {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": answer.json()["csrf_token"]}


async def _monitor_sees(stack: Stack, headers: dict[str, str]) -> int:
    stack.headers["probe"] = headers
    return (await stack.call("monitor", "GET", "/api/v1/models", "probe")).status_code


async def test_monitor_honours_disable_logout_and_ended_sessions(stack: Stack) -> None:
    made = await stack.as_owner("POST", f"{BASE}/users", {"username": "mon-user", "password": PASSWORD, "role": "annotator"})
    user_id = made.json()["id"]
    first = await _session(stack, "mon-user")
    assert await _monitor_sees(stack, first) == 200
    stack.headers["first"] = first
    assert (await stack.call("annotate", "POST", "/api/v1/auth/logout", "first")).status_code == 204
    assert await _monitor_sees(stack, first) == 401, "a logged-out session still opens the monitor"

    second = await _session(stack, "mon-user")
    assert await _monitor_sees(stack, second) == 200
    assert (await stack.as_owner("POST", f"{BASE}/users/{user_id}/disable")).status_code == 200
    assert await _monitor_sees(stack, second) == 401, "a disabled user's session still opens the monitor"

    # the `active` flag alone (a user disabled by editing the document) is honoured too
    assert (await stack.as_owner("POST", f"{BASE}/users/{user_id}/enable")).status_code == 200
    third = await _session(stack, "mon-user")
    deps = stack.annotate_deps()
    await deps.users.update(user_id, {"active": False})
    assert await _monitor_sees(stack, third) == 401, "the monitor ignores the active flag"


async def test_monitor_refuses_sessions_older_than_the_session_max_age(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    owner_id = (await stack.as_owner("GET", "/api/v1/me")).json()["user_id"]
    codec = SessionCodec(SECRET)
    long_ago = time.time() - 2 * SESSION_MAX_AGE_S  # older than both services' max age, younger than the 12 h default
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: long_ago)
        stale = codec.encode(codec.new_session(owner_id))
    headers = {"Cookie": f"{SESSION_COOKIE}={stale}", "X-CSRF-Token": new_csrf_token()}
    stack.headers["stale"] = headers
    assert (await stack.call("annotate", "GET", "/api/v1/me", "stale")).status_code == 401
    assert await _monitor_sees(stack, headers) == 401, "the monitor accepts sessions annotate has expired"
