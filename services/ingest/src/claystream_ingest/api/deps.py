"""Annotated dependency aliases reading ``app.state.deps``, and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader

from claystream_ingest.bootstrap import Deps
from claystream_ingest.services.auth import Principal, authenticate, enforce_rate_limit

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="cs_<id>_<secret>")


async def get_deps(request: Request) -> Deps:
    return request.app.state.deps


DepsDep = Annotated[Deps, Depends(get_deps)]


async def get_principal(
    deps: DepsDep,
    api_key: Annotated[str | None, Depends(api_key_header)] = None,
    authorization: Annotated[str | None, Header(description="Bearer <service token> (services only)")] = None,
    x_claystream_workspace: Annotated[str | None, Header(description="workspace (with a service token)")] = None,
) -> Principal:
    """Authenticate (401/403), then charge the caller's rate limit (429)."""
    principal = await authenticate(
        api_key=api_key,
        authorization=authorization,
        workspace_header=x_claystream_workspace,
        service_token=deps.settings.service_token,
        api_keys=deps.api_keys,
    )
    await enforce_rate_limit(principal, limiter=deps.rate_limiter)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
