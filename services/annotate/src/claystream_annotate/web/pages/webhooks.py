"""Admin pages: a workspace's webhook subscriptions, their delivery log, test events and replays."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from claystream_annotate.services import webhooks as use
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.principals import Principal
from claystream_annotate.services.webhook_events import NOT_PUBLISHED_YET, WEBHOOK_EVENT_TYPES
from claystream_annotate.services.webhook_payloads import FORMATS
from claystream_annotate.web.pages.admin import team_workspaces
from claystream_annotate.web.rendering import render
from claystream_annotate.web.routing import WebRoute
from claystream_annotate.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _stores(request: Request) -> dict[str, Any]:
    deps = request.app.state.deps
    return {"subscriptions": deps.webhook_subscriptions, "deliveries": deps.webhook_deliveries}


async def list_context(request: Request, principal: Principal, workspace: str | None) -> dict[str, Any]:
    workspaces = await team_workspaces(request, principal)
    current = workspace if workspace in workspaces else (workspaces[0] if workspaces else "")
    found = await use.list_subscriptions(actor=principal, workspace=current, subscriptions=request.app.state.deps.webhook_subscriptions)
    return {
        "workspaces": workspaces, "workspace": current, "subscriptions": [use.public(s) for s in found],
        "event_types": WEBHOOK_EVENT_TYPES, "not_published": NOT_PUBLISHED_YET, "formats": FORMATS,
    }


@router.get("/webhooks")
async def webhooks_page(request: Request, principal: WebUser, workspace: str | None = None) -> Response:
    context = await list_context(request, principal, workspace)
    return render(request, "annotate/webhooks.html", principal, error=None, created=None, form={}, **context)


@router.post("/webhooks/{workspace}")
async def create_submit(request: Request, principal: WebUser, workspace: str) -> Response:
    form = await request.form()
    body = {
        "url": str(form.get("url") or ""),
        "event_types": [str(t) for t in form.getlist("event_types")],
        "format": str(form.get("format") or "standard"),
        "description": str(form.get("description") or ""),
    }
    deps = request.app.state.deps
    try:
        created = await use.create_subscription(
            body, actor=principal, workspace=workspace, subscriptions=deps.webhook_subscriptions,
            allow_private=deps.settings.webhook_allow_private_targets,
        )
    except Invalid as error:
        context = await list_context(request, principal, workspace)
        return render(request, "annotate/webhooks.html", principal, status_code=422, error=str(error), created=None, form=body, **context)
    deps.webhook_cache.invalidate()
    context = await list_context(request, principal, workspace)
    return render(request, "annotate/webhooks.html", principal, status_code=201, error=None, created=use.public(created, with_secret=True), form={}, **context)


async def detail_context(request: Request, principal: Principal, workspace: str, subscription_id: str) -> dict[str, Any]:
    subscription = await use.get_subscription(
        subscription_id, actor=principal, workspace=workspace, subscriptions=request.app.state.deps.webhook_subscriptions
    )
    deliveries = await use.delivery_log(subscription_id, actor=principal, workspace=workspace, **_stores(request))
    return {"workspace": workspace, "subscription": use.public(subscription), "deliveries": deliveries}


@router.get("/webhooks/{workspace}/{subscription_id}")
async def detail_page(request: Request, principal: WebUser, workspace: str, subscription_id: str) -> Response:
    context = await detail_context(request, principal, workspace, subscription_id)
    return render(request, "annotate/webhook.html", principal, **context)


@router.get("/webhooks/{workspace}/{subscription_id}/deliveries")
async def deliveries_partial(request: Request, principal: WebUser, workspace: str, subscription_id: str) -> Response:
    context = await detail_context(request, principal, workspace, subscription_id)
    return render(request, "annotate/partials/webhook_deliveries.html", principal, **context)


@router.post("/webhooks/{workspace}/{subscription_id}/test")
async def test_submit(request: Request, principal: WebUser, workspace: str, subscription_id: str) -> Response:
    deps = request.app.state.deps
    await use.send_test_event(
        subscription_id, actor=principal, workspace=workspace, dispatch=deps.webhooks, lease_s=deps.settings.webhook_lease_s, **_stores(request)
    )
    context = await detail_context(request, principal, workspace, subscription_id)
    return render(request, "annotate/partials/webhook_deliveries.html", principal, **context)


@router.post("/webhooks/{workspace}/{subscription_id}/deliveries/{delivery_id}/replay")
async def replay_submit(request: Request, principal: WebUser, workspace: str, subscription_id: str, delivery_id: str) -> Response:
    deps = request.app.state.deps
    await use.replay_delivery(
        subscription_id, delivery_id, actor=principal, workspace=workspace, dispatch=deps.webhooks,
        lease_s=deps.settings.webhook_lease_s, **_stores(request),
    )
    context = await detail_context(request, principal, workspace, subscription_id)
    return render(request, "annotate/partials/webhook_deliveries.html", principal, **context)


@router.get("/webhooks/{workspace}/{subscription_id}/deliveries/{delivery_id}")
async def attempts_partial(request: Request, principal: WebUser, workspace: str, subscription_id: str, delivery_id: str) -> Response:
    delivery, attempts = await use.delivery_detail(subscription_id, delivery_id, actor=principal, workspace=workspace, **_stores(request))
    return render(request, "annotate/partials/webhook_attempts.html", principal, delivery=delivery, attempts=attempts)


@router.post("/webhooks/{workspace}/{subscription_id}/enabled")
async def enabled_submit(
    request: Request, principal: WebUser, workspace: str, subscription_id: str, enabled: Annotated[str, Form()] = "true"
) -> Response:
    deps = request.app.state.deps
    await use.update_subscription(
        subscription_id, {"enabled": enabled == "true"}, actor=principal, workspace=workspace,
        allow_private=deps.settings.webhook_allow_private_targets, **_stores(request),
    )
    deps.webhook_cache.invalidate()
    return RedirectResponse(f"/webhooks/{workspace}/{subscription_id}", status_code=303)


@router.post("/webhooks/{workspace}/{subscription_id}/delete")
async def delete_submit(request: Request, principal: WebUser, workspace: str, subscription_id: str) -> Response:
    await use.delete_subscription(subscription_id, actor=principal, workspace=workspace, **_stores(request))
    request.app.state.deps.webhook_cache.invalidate()
    return RedirectResponse(f"/webhooks?workspace={workspace}", status_code=303)
