from __future__ import annotations

from fastapi import APIRouter, Request, Response

from claystream_annotate.api.auth import PrincipalDep, client_ip, end_session, start_session
from claystream_annotate.api.deps import DepsDep
from claystream_annotate.api.schemas import LoginIn, SessionOut, UserPublic
from claystream_annotate.services.errors import NotFound
from claystream_annotate.services.users import login

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/login", response_model=SessionOut)
async def login_route(body: LoginIn, request: Request, response: Response, deps: DepsDep) -> SessionOut:
    """Check the password (rate limited, lockout) and set the session cookie."""
    user = await login(
        username=body.username, password=body.password, client_ip=client_ip(request), users=deps.users, limiter=deps.limiter
    )
    session = start_session(response, deps, user)
    return SessionOut(user=UserPublic.of(user), csrf_token=session.csrf_token)


@router.post("/auth/logout", status_code=204)
async def logout_route(request: Request, principal: PrincipalDep, deps: DepsDep) -> Response:
    """End this session server-side (the cookie, even a copy of it, stops working everywhere)."""
    response = Response(status_code=204)
    await end_session(request, response, deps)
    return response


@router.get("/me")
async def me(principal: PrincipalDep, deps: DepsDep) -> dict[str, object]:
    user = await deps.users.get(principal.user_id) if principal.kind == "user" else None
    if principal.kind == "user" and user is None:
        raise NotFound("user not found")
    return {
        "user_id": principal.user_id,
        "username": principal.username,
        "role": principal.role.value,
        "workspaces": None if principal.workspaces is None else sorted(principal.workspaces),
        "memberships": None if principal.roles is None else {name: role.value for name, role in sorted(principal.roles.items())},
        "kind": principal.kind,
        "csrf_token": principal.csrf_token,
    }
