"""Who is calling: a workspace API key (``X-API-Key``) or a service (bearer token + ``X-Claystream-Workspace``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from claystream_common.auth import AuthError
from fastapi import Depends, HTTPException, Request


@dataclass(frozen=True)
class Principal:
    workspace: str
    role: str
    is_admin: bool
    via: str


async def authenticate(request: Request) -> Principal:
    """API key or service token (``claystream_common.auth``); sessions are not accepted here."""
    deps = request.app.state.deps
    try:
        identity = await deps.auth.identify(request.headers, {})
    except AuthError as error:
        raise HTTPException(error.status, detail={"field": error.field, "reason": error.reason}) from None
    if identity is None:
        raise HTTPException(401, detail={"field": "X-API-Key", "reason": "missing credentials"})
    workspace = identity.workspace or ""
    if identity.kind == "service":
        return Principal(workspace=workspace, role="service", is_admin=True, via="service-token")
    return Principal(workspace=workspace, role=identity.role, is_admin=identity.role in deps.settings.admin_roles, via="api-key")


async def require_admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, detail={"field": "X-API-Key", "reason": "admin role or service token required"})
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]
AdminDep = Annotated[Principal, Depends(require_admin)]
