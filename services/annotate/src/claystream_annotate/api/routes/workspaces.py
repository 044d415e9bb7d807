from __future__ import annotations

from fastapi import APIRouter, Response

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep
from claystream_annotate.api.schemas import ApiKeyIn, ApiKeyOut, MembershipIn, UserCreate, UserPublic, WorkspaceIn
from claystream_annotate.services.errors import Forbidden
from claystream_annotate.services.principals import Role
from claystream_annotate.services.users import create_user, create_workspace, require_workspace, set_membership

router = APIRouter(prefix="/api/v1/workspaces", tags=["workspaces"])


@router.get("")
async def list_workspaces(principal: PrincipalDep, deps: DepsDep) -> list[str]:
    names = await deps.workspaces.list()
    return [n for n in names if principal.can_see(n)]


@router.post("", status_code=201)
async def create_workspace_route(body: WorkspaceIn, principal: PrincipalDep, deps: DepsDep) -> dict[str, str]:
    if not principal.is_owner:
        raise Forbidden("only owners create workspaces")
    return {"name": await create_workspace(body.name, workspaces=deps.workspaces)}


@router.get("/{workspace}/users")
async def list_members(workspace: str, principal: PrincipalDep, deps: DepsDep) -> list[UserPublic]:
    principal.require_manager(workspace)
    return [UserPublic.of(u, principal, workspace) for u in await deps.users.list(workspace)]


@router.post("/{workspace}/users", status_code=201)
async def create_member(workspace: str, body: UserCreate, principal: PrincipalDep, deps: DepsDep) -> UserPublic:
    """Create a user who is a member of this workspace (admins create annotators/admins)."""
    principal.require_manager(workspace)
    held = principal.role_in(workspace) or Role.ANNOTATOR
    if not held.at_least(Role(body.role)):
        raise Forbidden(f"you cannot create a user with role {body.role}")
    user = await create_user(
        username=body.username, password=body.password, role=body.role, workspaces_list=[workspace],
        users=deps.users, workspaces=deps.workspaces,
    )
    return UserPublic.of(user, principal, workspace)


@router.put("/{workspace}/members/{user_id}")
async def add_member(workspace: str, user_id: str, body: MembershipIn, principal: PrincipalDep, deps: DepsDep) -> UserPublic:
    role = Role(body.role) if body.role else None
    await require_workspace(workspace, deps.workspaces)
    user = await set_membership(actor=principal, user_id=user_id, workspace=workspace, member=True, role=role, users=deps.users)
    return UserPublic.of(user, principal, workspace)


@router.delete("/{workspace}/members/{user_id}", status_code=204)
async def remove_member(workspace: str, user_id: str, principal: PrincipalDep, deps: DepsDep) -> Response:
    await set_membership(actor=principal, user_id=user_id, workspace=workspace, member=False, users=deps.users)
    return Response(status_code=204)


@router.post("/{workspace}/api-keys", status_code=201)
async def create_api_key(workspace: str, body: ApiKeyIn, principal: PrincipalDep, deps: DepsDep) -> ApiKeyOut:
    principal.require_manager(workspace)
    await require_workspace(workspace, deps.workspaces)
    key = await deps.api_keys.create(workspace=workspace, name=body.name, role=body.role)
    return ApiKeyOut(key_id=key.key_id, api_key=key.plaintext, workspace=workspace, role=body.role)
