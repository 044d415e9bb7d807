"""Who is calling: an API key (``X-API-Key``) or a service (bearer token + workspace header)."""

from __future__ import annotations

from dataclasses import dataclass

from claystream_common.auth import AuthError, Authenticator

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
    """Resolve the caller (``claystream_common.auth``); 401 when unknown, 403 when known but not allowed to write here."""
    authenticator = Authenticator(service_token=service_token, api_keys=api_keys.get)
    try:
        if api_key:
            identity = await authenticator.api_key(api_key)
        elif authorization:
            identity = authenticator.service(authorization, workspace_header)
        else:
            raise Unauthorized("X-API-Key: missing API key")
    except AuthError as error:
        raise Unauthorized(f"{error.field}: {error.reason}") from None
    workspace = identity.workspace or ""
    if identity.kind == "service":
        return Principal(workspace=workspace, subject="service", role="service")
    if identity.role not in WRITE_ROLES:
        raise Forbidden(f"X-API-Key: role '{identity.role}' may not write to workspace '{workspace}'")
    if workspace_header and workspace_header != workspace:
        raise Forbidden(f"X-Claystream-Workspace: this key belongs to workspace '{workspace}', not '{workspace_header}'")
    return Principal(workspace=workspace, subject=identity.subject, role=identity.role)


async def enforce_rate_limit(principal: Principal, *, limiter: RateLimiter) -> None:
    decision = await limiter.hit(f"{principal.workspace}:{principal.subject}")
    if not decision.allowed:
        raise RateLimited(
            f"rate limit exceeded for this API key; retry after {decision.retry_after_s:.2f}s",
            retry_after_s=decision.retry_after_s,
        )
