"""Webhook subscriptions through annotate's HTTP API, against the real embedded servers and real local
receivers on 127.0.0.1 (allowed by ``webhook_allow_private_targets``)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from annotate_testing import BASE, Annotate, running_annotate
from claystream.webhooks import WebhookVerificationError, verify_signature
from claystream_annotate.services.webhooks import MAX_SUBSCRIPTIONS
from claystream_devstack.webhook_receiver import Receiver

FAST_RETRIES = {
    "webhook_allow_private_targets": "true", "webhook_retry_initial_s": "0.05", "webhook_retry_factor": "2",
    "webhook_max_attempts": "3", "webhook_poll_s": "0.05", "webhook_timeout_s": "1", "webhook_lease_s": "30",
}


@pytest.fixture
async def hooks(embedded_stack) -> AsyncIterator[Annotate]:  # type: ignore[no-untyped-def]
    async with running_annotate(embedded_stack, **FAST_RETRIES) as app:
        yield app


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def subscribe(app: Annotate, url: str, **extra: object) -> dict:
    answer = await app.owner.post(f"{BASE}/default/webhooks", json={"url": url, "event_types": ["drift.detected"], **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def wait_delivery(app: Annotate, sub_id: str, status: str, timeout_s: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        log = (await app.owner.get(f"{BASE}/default/webhooks/{sub_id}/deliveries")).json()
        if log and log[0]["status"] == status:
            return log[0]
        assert time.monotonic() < deadline, f"no {status} delivery: {log}"
        await asyncio.sleep(0.05)


async def test_bad_input_is_422_naming_the_field(hooks: Annotate, receiver: Receiver) -> None:
    cases = [
        ({"url": "ftp://x", "event_types": ["drift.detected"]}, "url"),
        ({"url": "not a url", "event_types": ["drift.detected"]}, "url"),
        ({"url": receiver.url, "event_types": ["drift.exploded"]}, "event_types"),
        ({"url": receiver.url, "event_types": []}, "event_types"),
        ({"url": receiver.url, "event_types": ["drift.detected"], "format": "teams"}, "format"),
        ({"url": receiver.url, "event_types": ["drift.detected"], "secret": "short"}, "secret"),
    ]
    for body, field in cases:
        answer = await hooks.owner.post(f"{BASE}/default/webhooks", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["field"] == field, answer.text
    await subscribe(hooks, receiver.url)
    duplicate = await hooks.owner.post(f"{BASE}/default/webhooks", json={"url": receiver.url, "event_types": ["record.created"]})
    assert duplicate.status_code == 422 and duplicate.json()["field"] == "url" and "already" in duplicate.text
    for n in range(MAX_SUBSCRIPTIONS - 1):  # each is polled every second: a workspace has a bounded number
        await subscribe(hooks, f"{receiver.url}/{n}")
    capped = await hooks.owner.post(f"{BASE}/default/webhooks", json={"url": f"{receiver.url}/one-more", "event_types": ["drift.detected"]})
    assert capped.status_code == 409 and "delete one" in capped.text


async def test_private_targets_refused_without_the_setting(embedded_stack, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    async with running_annotate(embedded_stack) as app:
        for url in (receiver.url, "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://[::1]:9/x"):
            answer = await app.owner.post(f"{BASE}/default/webhooks", json={"url": url, "event_types": ["drift.detected"]})
            assert answer.status_code == 422 and answer.json()["field"] == "url", (url, answer.text)
            assert "public address" in answer.text


async def test_admins_only_and_other_workspaces_hidden(hooks: Annotate, receiver: Receiver) -> None:
    created = await subscribe(hooks, receiver.url)
    annotator = await hooks.member("ann", role="annotator")
    assert (await annotator.get(f"{BASE}/default/webhooks")).status_code == 403
    await hooks.workspace("other")
    admin_other = await hooks.member("boss", role="admin", workspace="other")
    assert (await admin_other.get(f"{BASE}/default/webhooks/{created['id']}")).status_code == 404
    assert (await admin_other.get(f"{BASE}/other/webhooks/{created['id']}")).status_code == 404


async def test_test_event_is_signed_logged_and_replayable(hooks: Annotate, receiver: Receiver) -> None:
    created = await subscribe(hooks, receiver.url)
    assert created["secret"].startswith("whsec_")
    assert "secret" not in (await hooks.owner.get(f"{BASE}/default/webhooks/{created['id']}")).json()
    sent = await hooks.owner.post(f"{BASE}/default/webhooks/{created['id']}/test")
    assert sent.status_code == 202
    (arrival,) = await receiver.wait_for(1)
    headers = {"webhook-id": arrival.webhook_id, "webhook-timestamp": arrival.timestamp, "webhook-signature": arrival.signature}
    payload = verify_signature(arrival.body, headers, created["secret"])
    assert payload["type"] == "webhook.test" and arrival.webhook_id == sent.json()["event_id"]
    with pytest.raises(WebhookVerificationError):
        verify_signature(arrival.body + b" ", headers, created["secret"])
    delivered = await wait_delivery(hooks, created["id"], "delivered")
    assert delivered["last_status_code"] == 200 and delivered["last_response_excerpt"] == "ok" and delivered["attempts"] == 1
    detail = (await hooks.owner.get(f"{BASE}/default/webhooks/{created['id']}/deliveries/{delivered['id']}")).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [200] and detail["attempt_log"][0]["latency_ms"] > 0
    replay = await hooks.owner.post(f"{BASE}/default/webhooks/{created['id']}/deliveries/{delivered['id']}/replay")
    assert replay.status_code == 202 and replay.json()["replay_of"] == delivered["id"]
    second = await receiver.wait_for(2)
    assert second[1].webhook_id == arrival.webhook_id and second[1].body == arrival.body  # same message again
    missing = await hooks.owner.post(f"{BASE}/default/webhooks/{created['id']}/deliveries/nope/replay")
    assert missing.status_code == 404


async def test_failing_target_is_retried_then_disabled_and_resumes_when_enabled(hooks: Annotate) -> None:
    failing = await Receiver(behaviour="status", status=500).start()
    try:
        created = await subscribe(hooks, failing.url)
        await hooks.owner.post(f"{BASE}/default/webhooks/{created['id']}/test")
        failed = await wait_delivery(hooks, created["id"], "failed")
        assert failed["attempts"] == 3 and failed["last_status_code"] == 500 and failed["last_error"] == "HTTP 500"
        assert len(failing.arrivals) == 3
        deadline = time.monotonic() + 10
        while (sub := (await hooks.owner.get(f"{BASE}/default/webhooks/{created['id']}")).json())["enabled"]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert "failed 3 attempts" in sub["disabled_reason"] and sub["consecutive_failures"] == 3
        refused = await hooks.owner.post(f"{BASE}/default/webhooks/{created['id']}/test")
        assert refused.status_code == 422 and refused.json()["field"] == "enabled"
        failing.status = 200
        enabled = await hooks.owner.patch(f"{BASE}/default/webhooks/{created['id']}", json={"enabled": True})
        assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None
        await hooks.owner.post(f"{BASE}/default/webhooks/{created['id']}/test")
        await failing.wait_for(1)
    finally:
        await failing.stop()


@pytest.mark.parametrize("behaviour", ["hang", "huge", "redirect"])
async def test_misbehaving_target_never_blocks_another(hooks: Annotate, receiver: Receiver, behaviour: str) -> None:
    bad = await Receiver(behaviour=behaviour, hang_s=30).start()
    try:
        bad_sub = await subscribe(hooks, bad.url)
        good_sub = await subscribe(hooks, receiver.url)
        for _ in range(6):  # more than the bad lane's workers
            await hooks.owner.post(f"{BASE}/default/webhooks/{bad_sub['id']}/test")
        started = time.monotonic()
        await hooks.owner.post(f"{BASE}/default/webhooks/{good_sub['id']}/test")
        await receiver.wait_for(1, timeout_s=5)
        assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 10
        while True:
            log = (await hooks.owner.get(f"{BASE}/default/webhooks/{bad_sub['id']}/deliveries")).json()
            if len(log) == 6 and all(d["attempts"] for d in log):
                break
            assert time.monotonic() < deadline, log
            await asyncio.sleep(0.05)
        errors = {d["last_error"] for d in log if d["last_error"]}
        expected = {"hang": "timed out", "huge": None, "redirect": "not followed"}[behaviour]
        if expected:
            assert any(expected in e for e in errors), errors
        else:  # 10 MB answered with 200: delivered, only the capped excerpt kept
            assert any(len(d["last_response_excerpt"] or "") == 500 for d in log), log
    finally:
        await bad.stop()


async def test_slack_format_and_event_type_catalogue(hooks: Annotate, receiver: Receiver) -> None:
    catalogue = (await hooks.owner.get("/api/v1/webhook-event-types")).json()
    types = {t["type"]: t["published"] for t in catalogue["event_types"]}
    assert types["drift.detected"] is True and types["dataset.deleted"] is True and types["dataset.created"] is False and "slack" in catalogue["formats"]
    created = await subscribe(hooks, receiver.url, format="slack", event_types=["drift.detected", "dataset.deleted"])
    await hooks.owner.post(f"{BASE}/default/webhooks/{created['id']}/test")
    (arrival,) = await receiver.wait_for(1)
    assert set(json.loads(arrival.body)) == {"text"}
    changed = await hooks.owner.patch(f"{BASE}/default/webhooks/{created['id']}", json={"event_types": ["nope.never"]})
    assert changed.status_code == 422 and changed.json()["field"] == "event_types"
    assert (await hooks.owner.delete(f"{BASE}/default/webhooks/{created['id']}")).status_code == 204
    assert (await hooks.owner.get(f"{BASE}/default/webhooks")).json() == []


async def test_a_scheduled_retry_survives_a_restart(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    """The retry schedule is in MongoDB: a delivery that failed before annotate stopped is sent by the next one."""
    from claystream_devstack.processes import free_port

    db, port = f"t{uuid.uuid4().hex[:12]}", free_port()
    settings = {**FAST_RETRIES, "webhook_retry_initial_s": "0.3", "webhook_max_attempts": "50"}
    async with running_annotate(embedded_stack, db, **settings) as first:
        created = await subscribe(first, f"http://127.0.0.1:{port}/hook")  # nothing listens there yet
        await first.owner.post(f"{BASE}/default/webhooks/{created['id']}/test")
        deadline = time.monotonic() + 15
        while not (log := (await first.owner.get(f"{BASE}/default/webhooks/{created['id']}/deliveries")).json())[0]["last_error"]:
            assert time.monotonic() < deadline, log
            await asyncio.sleep(0.05)
        assert log[0]["status"] == "pending" and "Connect" in log[0]["last_error"]
    receiver = await Receiver(port=port).start()
    try:
        async with running_annotate(embedded_stack, db, **settings) as second:
            (arrival,) = await receiver.wait_for(1)
            delivered = await wait_delivery(second, created["id"], "delivered")
            assert arrival.webhook_id == delivered["event_id"] and delivered["attempts"] >= 2
    finally:
        await receiver.stop()
