"""Webhooks as just another subscriber: events on the real broker → annotate's webhook consumer group →
signed deliveries to local receivers (127.0.0.1, allowed by the setting)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from annotate_testing import BASE, running_annotate
from claystream.webhooks import verify_signature
from claystream_common.events import DriftChanged, RecordIngested, ResponseChanged, new_event
from claystream_common.kafka.producer import EventProducer
from claystream_devstack.webhook_receiver import Receiver

SETTINGS = {"consumers_enabled": "true", "webhook_allow_private_targets": "true", "webhook_poll_s": "0.1"}


def drift(workspace: str, model: str, kind: str = "drift.detected"):  # type: ignore[no-untyped-def]
    payload = DriftChanged(model=model, model_version="v3", check="embedding_mmd", statistic=0.31, threshold=0.05, p_value=0.001)
    return new_event(kind, payload, dataset=model, workspace=workspace)


async def test_drift_and_record_events_reach_subscribers_once_each(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    standard, slack = await Receiver().start(), await Receiver().start()
    producer = EventProducer(embedded_stack.ports.kafka_bootstrap, service="test")
    await producer.start()
    workspace = f"ws{uuid.uuid4().hex[:8]}"
    try:
        async with running_annotate(embedded_stack, **SETTINGS) as app:
            await app.workspace(workspace)
            hooks = f"{BASE}/{workspace}/webhooks"
            created = (await app.owner.post(hooks, json={
                "url": standard.url, "event_types": ["drift.detected", "record.created", "response.created", "response.updated"],
            })).json()
            await app.owner.post(hooks, json={"url": slack.url, "event_types": ["drift.detected"], "format": "slack"})

            detected = drift(workspace, "sentiment")
            other_workspace = drift("someone-else", "sentiment")
            resolved = drift(workspace, "sentiment", "drift.resolved")  # not subscribed
            record = new_event("record.ingested", RecordIngested(record_id="r1", fields={"text": "hi"}), dataset="d", workspace=workspace)
            first = ResponseChanged(response_id="r1:u", record_id="r1", user_id="u", status="draft", version=1)
            edit = ResponseChanged(response_id="r1:u", record_id="r1", user_id="u", status="submitted", version=2)
            responses = [new_event("response.updated", first, dataset="d", workspace=workspace),
                         new_event("response.submitted", edit, dataset="d", workspace=workspace)]
            for event in (detected, detected, other_workspace, resolved, record, *responses):  # detected twice: a redelivery
                await producer.publish(event)
            marker = drift(workspace, "marker")  # after the duplicate on the one drift partition
            await producer.publish(marker)

            expected = {str(detected.event_id), str(record.event_id), str(marker.event_id), *(str(r.event_id) for r in responses)}
            deadline = time.monotonic() + 60
            while not expected <= standard.ids():
                assert time.monotonic() < deadline, (expected - standard.ids(), [(a.webhook_id, a.status) for a in standard.arrivals])
                await asyncio.sleep(0.05)
            got = standard.delivered
            by_id = {a.webhook_id: a for a in got}
            assert str(other_workspace.event_id) not in by_id and str(resolved.event_id) not in by_id
            assert [a.webhook_id for a in got].count(str(detected.event_id)) == 1, [(a.webhook_id, a.at) for a in got]  # redelivery absorbed
            arrival = by_id[str(detected.event_id)]
            headers = {"webhook-id": arrival.webhook_id, "webhook-timestamp": arrival.timestamp, "webhook-signature": arrival.signature}
            payload = verify_signature(arrival.body, headers, created["secret"])
            assert payload["type"] == "drift.detected" and payload["workspace"] == workspace
            assert payload["data"]["check"] == "embedding_mmd" and payload["data"]["model_version"] == "v3"
            types = {json.loads(by_id[str(r.event_id)].body)["type"] for r in responses}
            assert types == {"response.created", "response.updated"}
            assert json.loads(by_id[str(record.event_id)].body)["type"] == "record.created"

            (message, *_) = await slack.wait_for(1, timeout_s=30)
            text = json.loads(message.body)["text"]
            assert "Drift detected" in text and "sentiment" in text and "embedding_mmd" in text
    finally:
        await producer.stop()
        await standard.stop()
        await slack.stop()
