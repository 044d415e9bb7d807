"""Account security (issue 17, finding 6): revoke API keys, disable users, change passwords, end sessions."""

from __future__ import annotations

from fastapi import APIRouter, Response

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep
from claystream_annotate.api.schemas import ApiKeyPublic, PasswordChange, PasswordReset, UserPublic
from claystream_annotate.services.accounts import (
    change_own_password,
    end_all_sessions,
    end_member_sessions,
    list_api_keys,
    require_user,
    reset_password,
    revoke_api_key,
    set_active,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"])
MEMBER = "/workspaces/{workspace}/users/{user_id}"


@router.get("/workspaces/{workspace}/api-keys")
async def list_keys(workspace: str, principal: PrincipalDep, deps: DepsDep) -> list[ApiKeyPublic]:
    """The workspace's API keys (never their secrets)."""
    return [ApiKeyPublic(**k) for k in await list_api_keys(actor=principal, workspace=workspace, api_keys=deps.api_keys)]


@router.delete("/workspaces/{workspace}/api-keys/{key_id}", status_code=204)
async def revoke_key(workspace: str, key_id: str, principal: PrincipalDep, deps: DepsDep) -> Response:
    """Revoke a key: every service refuses it from its next lookup (ingest within its key cache, 10 s)."""
    await revoke_api_key(actor=principal, workspace=workspace, key_id=key_id, api_keys=deps.api_keys)
    return Response(status_code=204)


@router.post(MEMBER + "/disable")
async def disable_user(workspace: str, user_id: str, principal: PrincipalDep, deps: DepsDep) -> UserPublic:
    """Refuse the member's logins and end every session they have."""
    user = await set_active(actor=principal, workspace=workspace, user_id=user_id, active=False, users=deps.users)
    return UserPublic.of(user, principal, workspace)


@router.post(MEMBER + "/enable")
async def enable_user(workspace: str, user_id: str, principal: PrincipalDep, deps: DepsDep) -> UserPublic:
    user = await set_active(actor=principal, workspace=workspace, user_id=user_id, active=True, users=deps.users)
    return UserPublic.of(user, principal, workspace)


@router.put(MEMBER + "/password", status_code=204)
async def reset_member_password(workspace: str, user_id: str, body: PasswordReset, principal: PrincipalDep, deps: DepsDep) -> Response:
    """Set a member's password (an admin's reset); ends every session of theirs."""
    await reset_password(actor=principal, workspace=workspace, user_id=user_id, new_password=body.new_password, users=deps.users)
    return Response(status_code=204)


@router.post(MEMBER + "/sessions:end", status_code=204)
async def end_member_sessions_route(workspace: str, user_id: str, principal: PrincipalDep, deps: DepsDep) -> Response:
    """End every session of a member (signed out everywhere, in annotate and the monitor)."""
    await end_member_sessions(actor=principal, workspace=workspace, user_id=user_id, users=deps.users)
    return Response(status_code=204)


@router.put("/me/password", status_code=204)
async def change_my_password(body: PasswordChange, principal: PrincipalDep, deps: DepsDep) -> Response:
    """Change your own password (needs the current one); ends every session, this one included."""
    await change_own_password(actor=principal, current_password=body.current_password, new_password=body.new_password, users=deps.users)
    return Response(status_code=204)


@router.post("/me/sessions:end", status_code=204)
async def end_my_sessions(principal: PrincipalDep, deps: DepsDep) -> Response:
    """Sign out everywhere: every session of yours ends, this one included."""
    require_user(principal)
    await end_all_sessions(user_id=principal.user_id, users=deps.users)
    return Response(status_code=204)
