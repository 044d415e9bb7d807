"""The outbox quarantine page: what the relay set aside, per workspace the admin administers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from claystream_annotate.services.errors import Forbidden
from claystream_annotate.services.quarantine import quarantined_entries
from claystream_annotate.web.pages.admin import team_workspaces
from claystream_annotate.web.rendering import render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/admin/quarantine")
async def quarantine_page(request: Request, principal: WebUser, workspace: str | None = None) -> Response:
    workspaces = await team_workspaces(request, principal)
    if not workspaces:
        raise Forbidden("you administer no workspace")
    current = workspace if workspace in workspaces else workspaces[0]
    found = await quarantined_entries(actor=principal, workspace=current, quarantine=request.app.state.deps.quarantine)
    return render(request, "annotate/quarantine.html", principal, workspaces=workspaces, workspace=current, **found)
