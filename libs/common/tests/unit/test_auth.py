"""The one authentication module (issue 14 item 5): keys, the service token and sessions resolve to an
Identity with the same rules for every service."""

from __future__ import annotations

import pytest
from claystream_common.apikeys import generate_api_key
from claystream_common.auth import ApiKeyRecord, AuthError, Authenticator, UserRecord
from claystream_common.web_sessions import SESSION_COOKIE, SessionCodec, session_tag

TOKEN = "service-token-0123456789abcdef"


def world(**user_changes: object) -> tuple[Authenticator, dict[str, str], SessionCodec]:
    admin_key, owner_key, revoked_key = generate_api_key(), generate_api_key(), generate_api_key()
    keys = {
        admin_key.key_id: ApiKeyRecord(admin_key.key_id, "alpha", "ci", "admin", admin_key.secret_sha256),
        owner_key.key_id: ApiKeyRecord(owner_key.key_id, "alpha", "old", "owner", owner_key.secret_sha256),
        revoked_key.key_id: ApiKeyRecord(revoked_key.key_id, "alpha", "gone", "admin", revoked_key.secret_sha256, revoked=True),
    }
    user = UserRecord.from_document({"_id": "u1", "username": "ann", "role": "admin", "memberships": {"alpha": "admin", "beta": "annotator"},
                                     **user_changes})
    codec = SessionCodec("secret-key-0123456789abcdef")

    async def key_lookup(key_id: str) -> ApiKeyRecord | None:
        return keys.get(key_id)

    async def user_lookup(user_id: str) -> UserRecord | None:
        return user if user_id == "u1" else None

    auth = Authenticator(service_token=TOKEN, api_keys=key_lookup, users=user_lookup, sessions=codec)
    plain = {"admin": admin_key.plaintext, "owner": owner_key.plaintext, "revoked": revoked_key.plaintext}
    return auth, plain, codec


async def test_api_keys_are_scoped_to_their_workspace_and_never_owner() -> None:
    auth, keys, _ = world()
    identity = await auth.identify({"x-api-key": keys["admin"]}, {})
    assert identity is not None and identity.kind == "api_key" and identity.workspace == "alpha" and identity.role == "admin"
    assert (await auth.identify({"x-api-key": keys["owner"]}, {})).role == "admin"  # type: ignore[union-attr]
    for bad, reason in ((keys["revoked"], "invalid or revoked"), ("cs_nope", "malformed"), (keys["admin"][:-2] + "xx", "invalid")):
        with pytest.raises(AuthError, match=reason):
            await auth.identify({"x-api-key": bad}, {})


async def test_service_token_names_a_valid_workspace() -> None:
    auth, _, _ = world()
    identity = await auth.identify({"authorization": f"Bearer {TOKEN}", "x-claystream-workspace": "alpha"}, {})
    assert identity is not None and identity.kind == "service" and identity.workspaces == frozenset({"alpha"})
    with pytest.raises(AuthError, match="required"):
        await auth.identify({"authorization": f"Bearer {TOKEN}"}, {})
    with pytest.raises(AuthError) as bad_name:
        await auth.identify({"authorization": f"Bearer {TOKEN}", "x-claystream-workspace": "../x"}, {})
    assert bad_name.value.status == 400
    with pytest.raises(AuthError, match="invalid service token"):
        await auth.identify({"authorization": "Bearer wrong-token", "x-claystream-workspace": "alpha"}, {})
    reader = Authenticator(service_token=TOKEN, api_keys=auth.api_keys, service_needs_workspace=False)
    assert (await reader.identify({"authorization": f"Bearer {TOKEN}"}, {})).workspaces is None  # type: ignore[union-attr]


async def test_sessions_carry_per_workspace_roles_and_end_when_they_should() -> None:
    auth, _, codec = world()
    session = codec.new_session("u1")
    identity = await auth.identify({}, {SESSION_COOKIE: codec.encode(session)})
    assert identity is not None and identity.role_in("alpha") == "admin" and identity.role_in("beta") == "annotator"
    assert identity.role_in("gamma") is None and identity.csrf_token == session.csrf_token
    assert await auth.identify({}, {}) is None and await auth.identify({}, {SESSION_COOKIE: "forged"}) is None
    for changes in ({"active": False}, {"session_epoch": 1}, {"ended_sessions": [session_tag(session)]}):
        ended, _, _ = world(**changes)
        ended.sessions = codec
        assert await ended.identify({}, {SESSION_COOKIE: codec.encode(session)}) is None, changes


def test_user_documents_written_before_memberships_keep_their_role() -> None:
    legacy = UserRecord.from_document({"_id": "u2", "username": "old", "role": "admin", "workspaces": ["alpha", "beta"], "active": 0})
    assert legacy.memberships == {"alpha": "admin", "beta": "admin"} and legacy.active is False
