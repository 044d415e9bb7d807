"""The webhook pages (htmx) through the real app on the embedded stack, with local receivers."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

from annotate_testing import BASE, running_annotate
from claystream_devstack.webhook_receiver import Receiver

HX = {"HX-Request": "true"}
SETTINGS = {"webhook_allow_private_targets": "true", "webhook_retry_initial_s": "0.05", "webhook_retry_factor": "2",
            "webhook_max_attempts": "2", "webhook_poll_s": "0.05"}


async def _until(check, timeout_s: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not (result := await check()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    return result


async def test_create_test_event_log_attempts_replay(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    receiver = await Receiver().start()
    try:
        async with running_annotate(embedded_stack, **SETTINGS) as app:
            owner = app.owner
            page = await owner.get("/webhooks")
            assert page.status_code == 200 and "Add a webhook" in page.text and 'href="/webhooks"' in page.text
            bad = await owner.post("/webhooks/default", data={"url": "ftp://nope", "event_types": ["drift.detected"]})
            assert bad.status_code == 422 and "url: must start with http" in bad.text
            unknown = await owner.post("/webhooks/default", data={"url": receiver.url, "event_types": ["drift.sideways"]})
            assert unknown.status_code == 422 and "event_types: unknown event type" in unknown.text
            created = await owner.post("/webhooks/default", data={"url": receiver.url, "event_types": ["drift.detected", "model.promoted"]})
            assert created.status_code == 201 and 'id="webhook-secret">whsec_' in created.text
            (sub,) = (await owner.get(f"{BASE}/default/webhooks")).json()
            detail = await owner.get(f"/webhooks/default/{sub['id']}")
            assert detail.status_code == 200 and "Send test event" in detail.text and "No deliveries yet" in detail.text

            sent = await owner.post(f"/webhooks/default/{sub['id']}/test", headers=HX)
            assert sent.status_code == 200 and "webhook.test" in sent.text
            await receiver.wait_for(1)

            async def delivered() -> str | None:
                text = (await owner.get(f"/webhooks/default/{sub['id']}/deliveries", headers=HX)).text
                return text if ">delivered<" in text else None

            log = await _until(delivered)
            assert "<td>1</td>" in log and "ms" in log and "<code>ok</code>" in log
            delivery_id = (await owner.get(f"{BASE}/default/webhooks/{sub['id']}/deliveries")).json()[0]["id"]
            attempts = await owner.get(f"/webhooks/default/{sub['id']}/deliveries/{quote(delivery_id)}", headers=HX)
            assert attempts.status_code == 200 and "<td>200</td>" in attempts.text
            replayed = await owner.post(f"/webhooks/default/{sub['id']}/deliveries/{quote(delivery_id)}/replay", headers=HX)
            assert replayed.status_code == 200 and "replay" in replayed.text
            arrivals = await receiver.wait_for(2)
            assert arrivals[0].webhook_id == arrivals[1].webhook_id

            annotator = await app.member("ann", role="annotator")
            assert (await annotator.get("/webhooks")).status_code == 403
    finally:
        await receiver.stop()


async def test_a_disabled_subscription_shows_why_and_can_be_enabled(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    failing = await Receiver(behaviour="status", status=503).start()
    try:
        async with running_annotate(embedded_stack, **SETTINGS) as app:
            owner = app.owner
            await owner.post("/webhooks/default", data={"url": failing.url, "event_types": ["training.failed"]})
            (sub,) = (await owner.get(f"{BASE}/default/webhooks")).json()
            await owner.post(f"/webhooks/default/{sub['id']}/test", headers=HX)

            async def disabled() -> str | None:
                text = (await owner.get(f"/webhooks/default/{sub['id']}")).text
                return text if 'id="webhook-disabled"' in text else None

            page = await _until(disabled)
            assert "after repeated failure" in page and "HTTP 503" in page and 'id="enable-webhook"' in page
            listing = await owner.get("/webhooks")
            assert ">disabled<" in listing.text
            enabled = await owner.post(f"/webhooks/default/{sub['id']}/enabled", data={"enabled": "true"})
            assert enabled.status_code == 303
            assert 'id="webhook-disabled"' not in (await owner.get(f"/webhooks/default/{sub['id']}")).text
    finally:
        await failing.stop()
