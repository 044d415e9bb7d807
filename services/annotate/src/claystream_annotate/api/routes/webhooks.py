"""Webhook subscriptions of a workspace (admins): CRUD, test event, delivery log, replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from claystream_annotate.api.auth import PrincipalDep
from claystream_annotate.api.deps import DepsDep
from claystream_annotate.bootstrap import Deps
from claystream_annotate.services import webhooks as use
from claystream_annotate.services.webhook_events import NOT_PUBLISHED_YET, WEBHOOK_EVENT_TYPES
from claystream_annotate.services.webhook_payloads import FORMATS

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
BASE = "/workspaces/{workspace}/webhooks"
WebhookBody = Annotated[dict[str, Any], Body(description="url, event_types, format (standard|slack), secret, description, enabled")]
DELIVERY_FIELDS = (
    "subscription_id", "event_id", "type", "status", "attempts", "published_at", "created_at", "delivered_at", "due_at",
    "last_attempt_at", "last_status_code", "last_latency_ms", "last_response_excerpt", "last_error", "replay_of",
)
ATTEMPT_FIELDS = ("attempt", "at", "status_code", "latency_ms", "response_excerpt", "error")


def delivery_public(delivery: dict[str, Any]) -> dict[str, Any]:
    out = {"id": delivery["_id"], **{k: delivery.get(k) for k in DELIVERY_FIELDS}}
    due = delivery.get("due_at")
    out["due_at"] = datetime.fromtimestamp(float(due), UTC).isoformat() if delivery.get("status") == "pending" and due else None
    return out


def _stores(deps: Deps) -> dict[str, Any]:
    return {"subscriptions": deps.webhook_subscriptions, "deliveries": deps.webhook_deliveries}


@router.get("/webhook-event-types")
async def event_types(principal: PrincipalDep) -> dict[str, Any]:
    """Every event type a subscription may ask for (``published: false``: accepted, no source event yet).
    Any caller who is signed in or holds a key or the service token (no API answers anonymous callers)."""
    return {"event_types": [{"type": t, "published": t not in NOT_PUBLISHED_YET} for t in WEBHOOK_EVENT_TYPES], "formats": list(FORMATS)}


@router.get(BASE)
async def list_route(workspace: str, principal: PrincipalDep, deps: DepsDep) -> list[dict[str, Any]]:
    found = await use.list_subscriptions(actor=principal, workspace=workspace, subscriptions=deps.webhook_subscriptions)
    return [use.public(s) for s in found]


@router.post(BASE, status_code=201)
async def create_route(workspace: str, principal: PrincipalDep, deps: DepsDep, body: WebhookBody) -> dict[str, Any]:
    """The answer carries the signing ``secret`` (only here: store it on the receiving side)."""
    created = await use.create_subscription(
        body, actor=principal, workspace=workspace, subscriptions=deps.webhook_subscriptions,
        allow_private=deps.settings.webhook_allow_private_targets,
    )
    deps.webhook_cache.invalidate()
    return use.public(created, with_secret=True)


@router.get(BASE + "/{subscription_id}")
async def get_route(workspace: str, subscription_id: str, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    found = await use.get_subscription(subscription_id, actor=principal, workspace=workspace, subscriptions=deps.webhook_subscriptions)
    return use.public(found)


@router.patch(BASE + "/{subscription_id}")
async def patch_route(workspace: str, subscription_id: str, principal: PrincipalDep, deps: DepsDep, body: WebhookBody) -> dict[str, Any]:
    saved = await use.update_subscription(
        subscription_id, body, actor=principal, workspace=workspace, allow_private=deps.settings.webhook_allow_private_targets, **_stores(deps)
    )
    deps.webhook_cache.invalidate()
    return use.public(saved, with_secret="secret" in body)


@router.delete(BASE + "/{subscription_id}", status_code=204)
async def delete_route(workspace: str, subscription_id: str, principal: PrincipalDep, deps: DepsDep) -> Response:
    await use.delete_subscription(subscription_id, actor=principal, workspace=workspace, **_stores(deps))
    deps.webhook_cache.invalidate()
    return Response(status_code=204)


@router.post(BASE + "/{subscription_id}/test", status_code=202)
async def test_route(workspace: str, subscription_id: str, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    """Send a ``webhook.test`` event now (follow it in the delivery log)."""
    delivery = await use.send_test_event(
        subscription_id, actor=principal, workspace=workspace, dispatch=deps.webhooks, lease_s=deps.settings.webhook_lease_s, **_stores(deps)
    )
    return delivery_public(delivery)


@router.get(BASE + "/{subscription_id}/deliveries")
async def deliveries_route(
    workspace: str, subscription_id: str, principal: PrincipalDep, deps: DepsDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """Newest first: status, attempts, last status code, latency and response excerpt."""
    found = await use.delivery_log(subscription_id, actor=principal, workspace=workspace, limit=limit, **_stores(deps))
    return [delivery_public(d) for d in found]


@router.get(BASE + "/{subscription_id}/deliveries/{delivery_id}")
async def delivery_route(workspace: str, subscription_id: str, delivery_id: str, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    """One delivery with its body and every attempt."""
    delivery, attempts = await use.delivery_detail(subscription_id, delivery_id, actor=principal, workspace=workspace, **_stores(deps))
    return delivery_public(delivery) | {"body": delivery["body"], "attempt_log": [{k: a.get(k) for k in ATTEMPT_FIELDS} for a in attempts]}


@router.post(BASE + "/{subscription_id}/deliveries/{delivery_id}/replay", status_code=202)
async def replay_route(workspace: str, subscription_id: str, delivery_id: str, principal: PrincipalDep, deps: DepsDep) -> dict[str, Any]:
    again = await use.replay_delivery(
        subscription_id, delivery_id, actor=principal, workspace=workspace, dispatch=deps.webhooks,
        lease_s=deps.settings.webhook_lease_s, **_stores(deps),
    )
    return delivery_public(again)
