"""Webhook rules with fakes of the ports: signing, schedule, event mapping, targets, fan-out and lanes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from claystream.webhooks import WebhookVerificationError, verify_signature
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.webhook_delivery import (
    RetrySchedule,
    SendOutcome,
    attempt_result,
    fan_out,
    health_updates,
)
from claystream_annotate.services.webhook_dispatcher import DispatchOptions, SubscriptionCache, WebhookDispatcher
from claystream_annotate.services.webhook_events import SOURCES, WEBHOOK_EVENT_TYPES, webhook_type_for
from claystream_annotate.services.webhook_payloads import encode_body, generate_secret, sign, signature_headers, slack_body
from claystream_annotate.services.webhook_targets import is_public_address, normalise_url, refusal_reason
from claystream_common.events import EVENT_TYPES, DriftChanged, ResponseChanged, new_event


# --------------------------------------------------------------------------- signing
def test_signature_is_standard_webhooks_hmac_and_the_sdk_verifies_it() -> None:
    secret = generate_secret()
    body = b'{"type":"drift.detected"}'
    now = int(time.time())
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"msg_1.{now}.".encode() + body, hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_1", now, body) == f"v1,{expected}"
    headers = signature_headers(secret, "msg_1", now, body)
    assert verify_signature(body, headers, secret) == {"type": "drift.detected"}
    plain = "a-plain-shared-secret"
    assert verify_signature(body, signature_headers(plain, "m", now, body), plain)
    for tampered in ({**headers, "webhook-id": "msg_2"}, {**headers, "webhook-timestamp": str(now - 1)}):
        with pytest.raises(WebhookVerificationError):
            verify_signature(body, tampered, secret)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_signature(body, signature_headers(secret, "m", now - 3600, body), secret)
    with pytest.raises(WebhookVerificationError):
        verify_signature(body, headers, generate_secret())


# --------------------------------------------------------------------------- schedule
def test_default_schedule_spans_about_a_day_and_grows() -> None:
    schedule = RetrySchedule(jitter=0)
    delays = [schedule.delay_after(n) for n in range(1, schedule.max_attempts)]
    assert all(b >= a for a, b in zip(delays, delays[1:], strict=False)) and delays[0] == 5.0
    assert 20 * 3600 <= schedule.total_span_s() <= 30 * 3600
    assert schedule.delay_after(schedule.max_attempts) is None


def test_attempt_outcomes() -> None:
    schedule = RetrySchedule(initial_s=1, factor=2, max_attempts=3, jitter=0)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    delivery = {"_id": "s:e", "subscription_id": "s", "attempts": 0}
    ok = attempt_result(delivery, SendOutcome(200, 12.0, "ok", None), schedule=schedule, now=now)
    assert ok.state == "delivered" and "pending_for" in ok.delivery_update["$unset"]
    retry = attempt_result(delivery, SendOutcome(500, 3.0, "boom", "HTTP 500"), schedule=schedule, now=now)
    assert retry.state == "retry" and retry.delivery_update["$set"]["due_at"] == now.timestamp() + 1
    assert retry.attempt["response_excerpt"] == "boom" and retry.attempt["attempt"] == 1
    last = attempt_result({**delivery, "attempts": 2}, SendOutcome(None, 1.0, "", "timed out"), schedule=schedule, now=now)
    assert last.state == "failed" and last.delivery_update["$set"]["status"] == "failed"
    health = health_updates([("s", retry), ("s", ok), ("s", retry), ("t", retry), ("t", retry)])
    assert health["s"]["$set"]["consecutive_failures"] == 1 and health["t"]["$inc"] == {"consecutive_failures": 2}


# --------------------------------------------------------------------------- catalogue and formats
def test_every_source_is_a_real_event_and_maps_to_a_catalogued_type() -> None:
    assert set(SOURCES) <= set(EVENT_TYPES)
    first = new_event("response.submitted", ResponseChanged(response_id="a", record_id="r", user_id="u", status="submitted", version=1))
    later = new_event("response.discarded", ResponseChanged(response_id="a", record_id="r", user_id="u", status="discarded", version=3))
    assert webhook_type_for(first) == "response.created" and webhook_type_for(later) == "response.updated"
    assert webhook_type_for(new_event("drift.resolved", _drift())) == "drift.resolved"
    for event_type in SOURCES:
        assert SOURCES[event_type](first) in WEBHOOK_EVENT_TYPES


def _drift() -> DriftChanged:
    return DriftChanged(model="m", check="psi", statistic=0.4, threshold=0.2)


def test_slack_body_is_a_text_message() -> None:
    body = {"type": "drift.detected", "workspace": "w", "dataset": "m", "data": _drift().model_dump()}
    assert slack_body(body)["text"].startswith(":rotating_light: Drift detected on model *m*")
    assert set(json.loads(encode_body(body, "slack"))) == {"text"}
    assert "record.created in w/d" in slack_body({"type": "record.created", "workspace": "w", "dataset": "d", "data": {}})["text"]


# --------------------------------------------------------------------------- targets
@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fe80::1", "::ffff:10.0.0.1", "0.0.0.0", "224.0.0.1",
                                     "fec0::1", "2002:a00:1::1", "2002:7f00:1::1", "2002:a9fe:a9fe::1",
                                     "64:ff9b::a00:1"])
def test_private_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


def test_public_address_and_url_rules() -> None:
    assert is_public_address("8.8.8.8") and is_public_address("2606:4700:4700::1111")
    assert is_public_address("2002:808:808::1")  # 6to4 of a public IPv4 address stays allowed
    assert normalise_url(" https://example.com/hook ") == "https://example.com/hook"
    for bad in ("", "ftp://x/y", "https://", "https://u:p@example.com/", "https://example.com:99999/", "https://ex ample.com/"):
        with pytest.raises(Invalid) as caught:
            normalise_url(bad)
        assert caught.value.field == "url"


async def test_loopback_refused_unless_allowed() -> None:
    assert "public address" in (await refusal_reason("http://127.0.0.1:9/x", allow_private=False) or "")
    assert await refusal_reason("http://127.0.0.1:9/x", allow_private=True) is None


async def test_a_refusal_tells_no_internal_address_and_a_bad_name_is_no_crash() -> None:
    """The answer named the private address a host resolved to (a map of internal names for any workspace admin),
    and a host name IDNA refuses raised UnicodeError: a 500."""
    inside = await refusal_reason("http://localhost:9/x", allow_private=False)
    nowhere = await refusal_reason("http://no-such-host.invalid/x", allow_private=False)
    assert inside == "host localhost does not resolve to a public address; not allowed" and "127.0.0.1" not in inside
    assert nowhere == "host no-such-host.invalid does not resolve to a public address; not allowed"
    for odd in (f"http://{'a' * 64}.example.com/", "http://a..example.com/"):
        assert "does not resolve to a public address" in (await refusal_reason(odd, allow_private=False) or "")


# --------------------------------------------------------------------------- fan-out and lanes
class FakeDeliveries:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.updates: list[tuple[str, dict[str, Any]]] = []

    async def insert_new(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        new = [d for d in documents if d["_id"] not in self.docs]
        self.docs.update({d["_id"]: d for d in new})
        return new

    async def claim_due(self, subscription_id: str, **_: Any) -> list[dict[str, Any]]:
        return []

    async def record(self, delivery_updates: list[tuple[str, dict[str, Any]]], attempts: list[dict[str, Any]]) -> None:
        self.updates.extend(delivery_updates)

    async def pause_pending(self, subscription_id: str) -> None:
        return None


class FakeSubscriptions:
    def __init__(self, subs: list[dict[str, Any]]) -> None:
        self.subs = subs
        self.disabled: list[str] = []

    async def get(self, subscription_id: str) -> dict[str, Any] | None:
        return next((s for s in self.subs if s["_id"] == subscription_id), None)

    async def all_enabled(self) -> list[dict[str, Any]]:
        return [s for s in self.subs if s["enabled"]]

    async def record_health(self, updates: dict[str, dict[str, Any]]) -> None:
        return None

    async def disable(self, subscription_id: str, *, reason: str, at: datetime) -> None:
        self.disabled.append(subscription_id)


class RecordingDispatch:
    def __init__(self, room: int) -> None:
        self.room = room
        self.submitted: list[dict[str, Any]] = []

    def admit(self, deliveries: list[dict[str, Any]], *, now: datetime) -> set[str]:
        fits = {d["_id"] for d in deliveries[: self.room]}
        for d in deliveries[self.room:]:
            d["due_at"] = now.timestamp()
        return fits

    def submit(self, deliveries: list[dict[str, Any]]) -> None:
        self.submitted.extend(deliveries)


class SlowForOneSender:
    """``slow`` hangs until released; everything else answers 200 at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendOutcome:
        if "slow" in url:
            await self.release.wait()
        self.sent.append(url)
        return SendOutcome(200, 1.0, "ok", None)


def _sub(sid: str, url: str, types: list[str]) -> dict[str, Any]:
    return {"_id": sid, "workspace": "w", "url": url, "event_types": types, "secret": "s" * 20, "enabled": True, "format": "standard"}


async def test_fan_out_matches_workspace_and_type_and_is_idempotent() -> None:
    subs = FakeSubscriptions([_sub("a", "http://127.0.0.1/a", ["drift.detected"]), _sub("b", "http://127.0.0.1/b", ["model.promoted"])])
    cache, deliveries = SubscriptionCache(subs.all_enabled), FakeDeliveries()
    event = new_event("drift.detected", _drift(), workspace="w", dataset="m")
    elsewhere = new_event("drift.detected", _drift(), workspace="other", dataset="m")
    dispatch = RecordingDispatch(room=0)
    first = await fan_out([event, elsewhere], subscriptions=cache, deliveries=deliveries, dispatch=dispatch, lease_s=60)
    assert [d["_id"] for d in first] == [f"a:{event.event_id}"]
    assert json.loads(first[0]["body"])["data"]["check"] == "psi"
    assert await fan_out([event], subscriptions=cache, deliveries=deliveries, dispatch=dispatch, lease_s=60) == []
    assert dispatch.submitted == []  # no room: stored as due now, for the poller
    assert first[0]["due_at"] <= time.time()


async def test_a_hanging_target_does_not_hold_up_another_lane() -> None:
    subs = FakeSubscriptions([_sub("slow", "http://127.0.0.1/slow", ["drift.detected"]), _sub("fast", "http://127.0.0.1/fast", ["drift.detected"])])
    sender, deliveries = SlowForOneSender(), FakeDeliveries()
    dispatcher = WebhookDispatcher(
        subscriptions=subs, deliveries=deliveries, cache=SubscriptionCache(subs.all_enabled), sender=sender,
        options=DispatchOptions(allow_private=True, concurrency=2, queue_per_worker=2, poll_s=30),
    )
    await dispatcher.start()
    try:
        events = [new_event("drift.detected", _drift(), workspace="w") for _ in range(20)]
        stored = await fan_out(events, subscriptions=SubscriptionCache(subs.all_enabled), deliveries=deliveries, dispatch=dispatcher, lease_s=60)
        deadline = time.monotonic() + 5
        while sender.sent.count("http://127.0.0.1/fast") < 4:  # the fast lane's room: 2 workers x 2
            assert time.monotonic() < deadline, sender.sent
            await asyncio.sleep(0.01)
        assert "http://127.0.0.1/slow" not in sender.sent
        # all 40 stored; what the lanes could not take is due now, for the poller (never dropped)
        assert len(stored) == 40 and sum(d["due_at"] <= time.time() for d in stored) == 32
    finally:
        sender.release.set()
        await dispatcher.stop()


class ClaimingDeliveries(FakeDeliveries):
    """Every claim returns ``claimable`` due deliveries, whatever the limit (another replica's view)."""

    def __init__(self, claimable: list[dict[str, Any]]) -> None:
        super().__init__()
        self.claimable = claimable

    async def claim_due(self, subscription_id: str, **_: Any) -> list[dict[str, Any]]:
        claimed, self.claimable = self.claimable, []
        return claimed


async def test_claims_a_full_lane_cannot_take_are_handed_back_at_once() -> None:
    subs = FakeSubscriptions([_sub("slow", "http://127.0.0.1/slow", ["drift.detected"])])
    due = [{"_id": f"slow:{n}", "subscription_id": "slow", "event_id": str(n), "body": "{}", "attempts": 1} for n in range(5)]
    sender, deliveries = SlowForOneSender(), ClaimingDeliveries(due)
    dispatcher = WebhookDispatcher(
        subscriptions=subs, deliveries=deliveries, cache=SubscriptionCache(subs.all_enabled), sender=sender,
        options=DispatchOptions(allow_private=True, concurrency=1, queue_per_worker=2, poll_s=30),
    )
    await dispatcher.start()
    try:
        assert await dispatcher.claim_due() == 2
        deadline = time.monotonic() + 5
        while len(deliveries.updates) < 3:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert {u[0] for u in deliveries.updates} == {"slow:2", "slow:3", "slow:4"}
        assert all(u[1]["$unset"] == {"claim": ""} and u[1]["$set"]["due_at"] <= time.time() for u in deliveries.updates)
    finally:
        sender.release.set()
        await dispatcher.stop()


async def test_a_target_that_now_resolves_inside_is_refused_at_send_time() -> None:
    subs = FakeSubscriptions([_sub("inside", "http://127.0.0.1:9/hook", ["drift.detected"])])
    sender, deliveries = SlowForOneSender(), FakeDeliveries()
    dispatcher = WebhookDispatcher(
        subscriptions=subs, deliveries=deliveries, cache=SubscriptionCache(subs.all_enabled), sender=sender,
        options=DispatchOptions(allow_private=False, poll_s=30),
    )
    await dispatcher.deliver({"_id": "inside:e", "subscription_id": "inside", "event_id": "e", "body": "{}", "attempts": 0})
    await dispatcher.stop()  # writes what is pending
    assert sender.sent == []
    (delivery_id, update), = deliveries.updates
    assert delivery_id == "inside:e" and "public address" in update["$set"]["last_error"] and "due_at" in update["$set"]
