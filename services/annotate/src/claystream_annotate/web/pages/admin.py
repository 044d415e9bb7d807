"""Owner/admin pages: dataset settings (and deletion) and the team of a workspace."""

from __future__ import annotations

import json
from typing import Annotated, Any

from claystream_common.datasets import DatasetSpec
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from claystream_annotate.services.accounts import list_api_keys
from claystream_annotate.services.datasets import delete_dataset, update_dataset
from claystream_annotate.services.errors import Conflict, Forbidden, Invalid
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.users import create_user, require_workspace, set_membership, visible_memberships
from claystream_annotate.web.pages.annotate import load_spec
from claystream_annotate.web.rendering import render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)
JSON_PARTS = ("fields", "questions", "metadata_properties", "trainer")


def settings_form(spec: DatasetSpec) -> dict[str, Any]:
    data = spec.model_dump(mode="json")
    return {
        "guidelines": spec.guidelines,
        "min_submitted": spec.min_submitted,
        **{part: json.dumps(data[part], indent=2) for part in JSON_PARTS},
    }


def changes_from(form: dict[str, str]) -> dict[str, Any]:
    """The settings form's changes; a part the post leaves out keeps its value."""
    changes: dict[str, Any] = {}
    if form.get("guidelines") is not None:
        changes["guidelines"] = form["guidelines"]
    if form.get("min_submitted") is not None:
        try:
            changes["min_submitted"] = int(form.get("min_submitted") or 1)
        except ValueError:
            raise Invalid("min_submitted", "must be a whole number") from None
    for part in JSON_PARTS:
        if form.get(part) is None:  # left out: kept (it used to be saved as empty)
            continue
        try:
            changes[part] = json.loads(form.get(part) or ("{}" if part == "trainer" else "[]"))
        except json.JSONDecodeError as error:
            raise Invalid(part, f"not valid JSON ({error.msg} at line {error.lineno})") from None
        except RecursionError:
            raise Invalid(part, "nested too deeply") from None
    return changes


async def admin_spec(request: Request, principal: Principal, workspace: str, dataset: str) -> DatasetSpec:
    spec = await load_spec(request, principal, workspace, dataset)
    principal.require(workspace, Role.ADMIN)
    return spec


@router.get("/datasets/{workspace}/{dataset}/settings")
async def settings_page(request: Request, principal: WebUser, workspace: str, dataset: str, saved: int = 0) -> Response:
    spec = await admin_spec(request, principal, workspace, dataset)
    return render(request, "annotate/settings.html", principal, spec=spec, tab="settings", form=settings_form(spec), error=None, saved=bool(saved))


@router.post("/datasets/{workspace}/{dataset}/settings")
async def settings_submit(request: Request, principal: WebUser, workspace: str, dataset: str) -> Response:
    spec = await admin_spec(request, principal, workspace, dataset)
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        await update_dataset(changes_from(form), actor=principal, workspace=workspace, name=dataset, datasets=request.app.state.deps.datasets)
    except Invalid as error:
        return render(request, "annotate/settings.html", principal, status_code=422, spec=spec, tab="settings", form=form, error=str(error), saved=False)
    return RedirectResponse(f"/datasets/{workspace}/{dataset}/settings?saved=1", status_code=303)


@router.post("/datasets/{workspace}/{dataset}/delete")
async def delete_submit(request: Request, principal: WebUser, workspace: str, dataset: str, confirm_name: Annotated[str, Form()] = "") -> Response:
    spec = await admin_spec(request, principal, workspace, dataset)
    if confirm_name.strip() != spec.name:
        raise Invalid("confirm_name", f"type the dataset's name ({spec.name}) to delete it")
    deps = request.app.state.deps
    await delete_dataset(
        actor=principal, workspace=workspace, name=dataset, datasets=deps.datasets, records=deps.records,
        responses=deps.responses, queue=deps.queue, counters=deps.counters, publisher=deps.publisher,
        vectors=deps.vectors, model_events=deps.model_events,
    )
    return RedirectResponse("/", status_code=303)


async def team_workspaces(request: Request, principal: Principal) -> list[str]:
    administered = principal.administered(await request.app.state.deps.workspaces.list())
    if not administered:
        raise Forbidden("the team page needs the admin role")
    return administered


async def team_context(request: Request, principal: Principal, workspace: str | None) -> dict[str, Any]:
    deps = request.app.state.deps
    workspaces = await team_workspaces(request, principal)
    if not workspaces:
        raise Forbidden("you administer no workspace")
    current = workspace if workspace in workspaces else workspaces[0]
    principal.require(current, Role.ADMIN)
    users = sorted(await deps.users.list(current), key=lambda u: u.username)
    members = [
        {"id": u.id, "username": u.username, "active": u.active, "role": u.role if u.role == "owner" else u.memberships.get(current, u.role),
         "workspaces": sorted(visible_memberships(u, principal))}
        for u in users
    ]
    others: list[Any] = []
    if principal.is_owner:
        member_ids = {u.id for u in users}
        others = sorted((u for u in await deps.users.list(None) if u.id not in member_ids), key=lambda u: u.username)
    held = principal.role_in(current) or Role.ANNOTATOR
    grantable = [r.value for r in (Role.ANNOTATOR, Role.ADMIN, Role.OWNER) if held.at_least(r)]
    keys = await list_api_keys(actor=principal, workspace=current, api_keys=deps.api_keys)
    return {"workspaces": workspaces, "workspace": current, "members": members, "others": others, "roles": grantable,
            "member_roles": [r for r in grantable if r != Role.OWNER.value], "api_keys": keys}


@router.get("/team")
async def team_page(request: Request, principal: WebUser, workspace: str | None = None) -> Response:
    context = await team_context(request, principal, workspace)
    return render(request, "annotate/team.html", principal, error=None, notice=None, **context)


@router.post("/team/{workspace}/users")
async def team_create_user(
    request: Request,
    principal: WebUser,
    workspace: str,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form()] = "annotator",
) -> Response:
    deps = request.app.state.deps
    principal.require(workspace, Role.ADMIN)
    error, notice = None, None
    try:
        held = principal.role_in(workspace) or Role.ANNOTATOR
        if role not in {r.value for r in Role} or not held.at_least(Role(role)):
            raise Invalid("role", f"you cannot create a user with role {role}")
        user = await create_user(
            username=username, password=password, role=role, workspaces_list=[workspace], users=deps.users, workspaces=deps.workspaces
        )
        notice = f"Created {user.username} ({user.role})."
    except (Invalid, Conflict) as failure:
        error = str(failure)
    context = await team_context(request, principal, workspace)
    return render(request, "annotate/team.html", principal, status_code=422 if error else 200, error=error, notice=notice, **context)


@router.post("/team/{workspace}/members")
async def team_membership(
    request: Request,
    principal: WebUser,
    workspace: str,
    user_id: Annotated[str, Form()],
    action: Annotated[str, Form()] = "add",
    role: Annotated[str, Form()] = "",
) -> Response:
    new_role = Role(role) if role in {r.value for r in Role} else None
    if action != "remove":
        await require_workspace(workspace, request.app.state.deps.workspaces)
    await set_membership(
        actor=principal, user_id=user_id, workspace=workspace, member=action != "remove", role=new_role, users=request.app.state.deps.users
    )
    return RedirectResponse(f"/team?workspace={workspace}", status_code=303)
