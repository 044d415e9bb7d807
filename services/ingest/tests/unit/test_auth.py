"""Who may call: API keys (hashed, workspace-scoped) and the service token."""

from __future__ import annotations

import pytest

from claystream_ingest.services.auth import Principal, authenticate, enforce_rate_limit
from claystream_ingest.services.errors import Forbidden, RateLimited, Unauthorized
from ingest_fakes import API_KEY, KEY_ID, SERVICE_TOKEN, VIEWER_KEY, FakeRateLimiter, default_keys


async def auth(api_key: str | None = None, authorization: str | None = None, workspace: str | None = None) -> Principal:
    return await authenticate(api_key=api_key, authorization=authorization, workspace_header=workspace,
                              service_token=SERVICE_TOKEN, api_keys=default_keys())


async def test_a_valid_key_resolves_to_its_workspace() -> None:
    assert await auth(API_KEY) == Principal(workspace="acme", subject=KEY_ID, role="annotator")
    assert await auth(API_KEY, workspace="acme") == Principal(workspace="acme", subject=KEY_ID, role="annotator")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "X-API-Key: missing API key"),
        ("not-a-key", "X-API-Key: malformed API key (expected cs_<id>_<secret>)"),
        ("cs_1111222233334444_secret", "X-API-Key: invalid or revoked API key"),
        (f"cs_{KEY_ID}_wrong", "X-API-Key: invalid or revoked API key"),
    ],
)
async def test_unknown_keys_are_401(key: str | None, message: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        await auth(key)
    assert caught.value.detail == message


async def test_revoked_keys_are_401() -> None:
    keys = default_keys()
    record = keys.records[KEY_ID]
    keys.records[KEY_ID] = type(record)(**{**{s: getattr(record, s) for s in record.__slots__}, "revoked": True})
    with pytest.raises(Unauthorized):
        await authenticate(api_key=API_KEY, authorization=None, workspace_header=None,
                           service_token=SERVICE_TOKEN, api_keys=keys)


async def test_read_only_keys_and_other_workspaces_are_403() -> None:
    with pytest.raises(Forbidden, match="role 'viewer' may not write to workspace 'acme'"):
        await auth(VIEWER_KEY)
    with pytest.raises(Forbidden, match="this key belongs to workspace 'acme', not 'globex'"):
        await auth(API_KEY, workspace="globex")


async def test_services_authenticate_with_the_token_and_name_the_workspace() -> None:
    principal = await auth(authorization=f"Bearer {SERVICE_TOKEN}", workspace="globex")
    assert principal == Principal(workspace="globex", subject="service", role="service")
    assert principal.is_service
    with pytest.raises(Unauthorized, match="invalid service token"):
        await auth(authorization="Bearer nope", workspace="globex")
    with pytest.raises(Unauthorized, match="X-Claystream-Workspace: required"):
        await auth(authorization=f"Bearer {SERVICE_TOKEN}")
    with pytest.raises(Unauthorized, match="expected 'Bearer <service token>'"):
        await auth(authorization=f"Basic {SERVICE_TOKEN}", workspace="globex")


async def test_rate_limit_is_charged_per_key_and_says_when_to_retry() -> None:
    limiter = FakeRateLimiter(allow=1, retry_after_s=0.3)
    principal = Principal(workspace="acme", subject=KEY_ID, role="annotator")
    await enforce_rate_limit(principal, limiter=limiter)
    with pytest.raises(RateLimited) as caught:
        await enforce_rate_limit(principal, limiter=limiter)
    assert limiter.hits == [f"acme:{KEY_ID}", f"acme:{KEY_ID}"]
    assert caught.value.headers() == {"Retry-After": "1"}
    assert caught.value.body() == {"detail": "rate limit exceeded for this API key; retry after 0.30s", "retry_after_s": 0.3}
