"""Account security in the UI (issue 17, finding 6): the team page's member and API-key actions, and
``/account`` (change your password, sign out everywhere)."""

from __future__ import annotations

from typing import Annotated

from claystream_common.web_sessions import SESSION_COOKIE
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from claystream_annotate.services.accounts import (
    change_own_password,
    end_all_sessions,
    end_member_sessions,
    reset_password,
    revoke_api_key,
    set_active,
)
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.principals import Role
from claystream_annotate.services.users import require_workspace
from claystream_annotate.web.pages.admin import team_context
from claystream_annotate.web.rendering import render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MEMBER = "/team/{workspace}/users/{user_id}"


def back_to_team(workspace: str) -> Response:
    return RedirectResponse(f"/team?workspace={workspace}", status_code=303)


@router.post(MEMBER + "/active")
async def member_active(request: Request, principal: WebUser, workspace: str, user_id: str, active: Annotated[str, Form()] = "0") -> Response:
    await set_active(actor=principal, workspace=workspace, user_id=user_id, active=active == "1", users=request.app.state.deps.users)
    return back_to_team(workspace)


@router.post(MEMBER + "/password")
async def member_password(
    request: Request, principal: WebUser, workspace: str, user_id: str, new_password: Annotated[str, Form(max_length=1024)] = ""
) -> Response:
    deps = request.app.state.deps
    try:
        await reset_password(actor=principal, workspace=workspace, user_id=user_id, new_password=new_password, users=deps.users)
    except Invalid as error:
        context = await team_context(request, principal, workspace)
        return render(request, "annotate/team.html", principal, status_code=422, error=str(error), notice=None, **context)
    context = await team_context(request, principal, workspace)
    return render(request, "annotate/team.html", principal, error=None, notice="Password set; their sessions ended.", **context)


@router.post(MEMBER + "/sessions")
async def member_sessions(request: Request, principal: WebUser, workspace: str, user_id: str) -> Response:
    await end_member_sessions(actor=principal, workspace=workspace, user_id=user_id, users=request.app.state.deps.users)
    return back_to_team(workspace)


@router.post("/team/{workspace}/api-keys")
async def create_key(
    request: Request, principal: WebUser, workspace: str,
    name: Annotated[str, Form(min_length=1, max_length=100)], role: Annotated[str, Form()] = "annotator",
) -> Response:
    principal.require_manager(workspace)
    if role not in (Role.ANNOTATOR.value, Role.ADMIN.value):
        raise Invalid("role", "admin or annotator")
    await require_workspace(workspace, request.app.state.deps.workspaces)
    key = await request.app.state.deps.api_keys.create(workspace=workspace, name=name, role=role)
    context = await team_context(request, principal, workspace)
    return render(request, "annotate/team.html", principal, error=None, notice=None, new_key=key.plaintext, **context)


@router.post("/team/{workspace}/api-keys/{key_id}/revoke")
async def revoke_key(request: Request, principal: WebUser, workspace: str, key_id: str) -> Response:
    await revoke_api_key(actor=principal, workspace=workspace, key_id=key_id, api_keys=request.app.state.deps.api_keys)
    return back_to_team(workspace)


@router.get("/account")
async def account_page(request: Request, principal: WebUser) -> Response:
    return render(request, "annotate/account.html", principal, error=None, notice=None)


@router.post("/account/password")
async def account_password(
    request: Request, principal: WebUser,
    current_password: Annotated[str, Form(max_length=1024)] = "", new_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        await change_own_password(actor=principal, current_password=current_password, new_password=new_password,
                                  users=request.app.state.deps.users)
    except Invalid as error:
        return render(request, "annotate/account.html", principal, status_code=422, error=str(error), notice=None)
    return signed_out(request, "Password changed. Every session of yours has ended: sign in again with the new password.")


@router.post("/account/sessions")
async def account_sessions(request: Request, principal: WebUser) -> Response:
    await end_all_sessions(user_id=principal.user_id, users=request.app.state.deps.users)
    return signed_out(request, "Every session of yours has ended, on every device.")


def signed_out(request: Request, notice: str) -> Response:
    response = render(request, "annotate/account.html", None, error=None, notice=notice)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=request.app.state.deps.settings.secure_cookies, httponly=True, samesite="lax")
    return response
