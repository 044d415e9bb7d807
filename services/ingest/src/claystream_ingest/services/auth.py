"""Who is calling: an API key (``X-API-Key``) or a service (bearer token + workspace header)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from claystream_common.apikeys import parse_api_key, secret_matches

from claystream_ingest.services.errors import Forbidden, RateLimited, Unauthorized
from claystream_ingest.services.ports import ApiKeyStore, RateLimiter

WRITE_ROLES = frozenset({"annotator", "admin", "owner"})  # annotate's roles; any other role may not write


@dataclass(frozen=True, slots=True)
class Principal:
    workspace: str
    subject: str  # key id, or "service"
    role: str

    @property
    def is_service(self) -> bool:
        return self.subject == "service"


async def authenticate(
    *,
    api_key: str | None,
    authorization: str | None,
    workspace_header: str | None,
    service_token: str,
    api_keys: ApiKeyStore,
) -> Principal:
    """Resolve the caller; 401 when unknown, 403 when known but not allowed to write here."""
    if api_key:
        return await _from_api_key(api_key, workspace_header, api_keys)
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization: expected 'Bearer <service token>'")
        if not hmac.compare_digest(token.strip().encode(), service_token.encode()):
            raise Unauthorized("Authorization: invalid service token")
        if not workspace_header:
            raise Unauthorized("X-Claystream-Workspace: required with a service token")
        return Principal(workspace=workspace_header, subject="service", role="service")
    raise Unauthorized("X-API-Key: missing API key")


async def _from_api_key(api_key: str, workspace_header: str | None, api_keys: ApiKeyStore) -> Principal:
    parsed = parse_api_key(api_key.strip())
    if parsed is None:
        raise Unauthorized("X-API-Key: malformed API key (expected cs_<id>_<secret>)")
    key_id, secret = parsed
    record = await api_keys.get(key_id)
    if record is None or record.revoked or not secret_matches(secret, record.secret_sha256):
        raise Unauthorized("X-API-Key: invalid or revoked API key")
    if record.role not in WRITE_ROLES:
        raise Forbidden(f"X-API-Key: role '{record.role}' may not write to workspace '{record.workspace}'")
    if workspace_header and workspace_header != record.workspace:
        raise Forbidden(
            f"X-Claystream-Workspace: this key belongs to workspace '{record.workspace}', not '{workspace_header}'"
        )
    return Principal(workspace=record.workspace, subject=key_id, role=record.role)


async def enforce_rate_limit(principal: Principal, *, limiter: RateLimiter) -> None:
    decision = await limiter.hit(f"{principal.workspace}:{principal.subject}")
    if not decision.allowed:
        raise RateLimited(
            f"rate limit exceeded for this API key; retry after {decision.retry_after_s:.2f}s",
            retry_after_s=decision.retry_after_s,
        )
