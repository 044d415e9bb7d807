"""Who is calling: a workspace API key (``X-API-Key``) or a service (bearer token + ``X-Claystream-Workspace``)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from claystream_common.apikeys import parse_api_key, secret_matches
from claystream_common.datasets import valid_name
from claystream_common.mongo import mongo_database
from fastapi import Depends, HTTPException, Request


@dataclass(frozen=True)
class Principal:
    workspace: str
    role: str
    is_admin: bool
    via: str


async def authenticate(request: Request) -> Principal:
    deps = request.app.state.deps
    settings = deps.settings
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if not hmac.compare_digest(token.encode(), settings.service_token.encode()):
            raise HTTPException(401, detail={"field": "Authorization", "reason": "invalid service token"})
        workspace = request.headers.get("x-claystream-workspace")
        if not workspace or not valid_name(workspace):
            raise HTTPException(400, detail={"field": "X-Claystream-Workspace",
                                             "reason": "required with a service token: a valid workspace name"})
        return Principal(workspace=workspace, role="service", is_admin=True, via="service-token")
    plaintext = request.headers.get("x-api-key")
    if not plaintext:
        raise HTTPException(401, detail={"field": "X-API-Key", "reason": "missing credentials"})
    parsed = parse_api_key(plaintext)
    if parsed is None:
        raise HTTPException(401, detail={"field": "X-API-Key", "reason": "malformed API key"})
    key_id, secret = parsed
    doc: dict[str, Any] | None = await mongo_database(deps.mongo, settings)["api_keys"].find_one({"_id": key_id})
    if doc is None or doc.get("revoked") or not secret_matches(secret, str(doc.get("secret_sha256", ""))):
        raise HTTPException(401, detail={"field": "X-API-Key", "reason": "unknown or revoked API key"})
    role = str(doc.get("role", "member"))
    return Principal(workspace=str(doc["workspace"]), role=role, is_admin=role in settings.admin_roles, via="api-key")


async def require_admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, detail={"field": "X-API-Key", "reason": "admin role or service token required"})
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]
AdminDep = Annotated[Principal, Depends(require_admin)]
