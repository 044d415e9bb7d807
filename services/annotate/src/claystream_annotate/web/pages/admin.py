"""Owner/admin pages: dataset settings (and deletion) and the team of a workspace."""

from __future__ import annotations

import json
from typing import Annotated, Any

from claystream_common.datasets import DatasetSpec
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from claystream_annotate.services.datasets import delete_dataset, update_dataset
from claystream_annotate.services.errors import Conflict, Forbidden, Invalid
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.users import create_user, set_membership
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
    changes: dict[str, Any] = {"guidelines": form.get("guidelines", "")}
    try:
        changes["min_submitted"] = int(form.get("min_submitted") or 1)
    except ValueError:
        raise Invalid("min_submitted", "must be a whole number") from None
    for part in JSON_PARTS:
        try:
            changes[part] = json.loads(form.get(part) or ("{}" if part == "trainer" else "[]"))
        except json.JSONDecodeError as error:
            raise Invalid(part, f"not valid JSON ({error.msg} at line {error.lineno})") from None
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
    if not principal.role.at_least(Role.ADMIN):
        raise Forbidden("the team page needs the admin role")
    if principal.workspaces is None:
        return sorted(await request.app.state.deps.workspaces.list())
    return sorted(principal.workspaces)


async def team_context(request: Request, principal: Principal, workspace: str | None) -> dict[str, Any]:
    deps = request.app.state.deps
    workspaces = await team_workspaces(request, principal)
    if not workspaces:
        raise Forbidden("you administer no workspace")
    current = workspace if workspace in workspaces else workspaces[0]
    principal.require(current, Role.ADMIN)
    members = sorted(await deps.users.list(current), key=lambda u: u.username)
    others: list[Any] = []
    if principal.is_owner:
        member_ids = {u.id for u in members}
        others = sorted((u for u in await deps.users.list(None) if u.id not in member_ids), key=lambda u: u.username)
    grantable = [r.value for r in (Role.ANNOTATOR, Role.ADMIN, Role.OWNER) if principal.role.at_least(r)]
    return {"workspaces": workspaces, "workspace": current, "members": members, "others": others, "roles": grantable}


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
        if role not in {r.value for r in Role} or not principal.role.at_least(Role(role)):
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
    await set_membership(
        actor=principal, user_id=user_id, workspace=workspace, member=action != "remove", role=new_role, users=request.app.state.deps.users
    )
    return RedirectResponse(f"/team?workspace={workspace}", status_code=303)
