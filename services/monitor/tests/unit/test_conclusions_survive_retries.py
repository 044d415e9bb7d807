"""What a window concluded (evaluations, alerts, drift events) is written before the checkpoint that says
its events were counted.  A batch whose conclusion failed (Kafka or MongoDB down, or a crash) is retried by
the consumer runner and concludes again under the same names; before, the retry was fenced and the alert
of that window was lost for good."""

from __future__ import annotations

import dataclasses

from claystream_common.events import FeedbackLogged, new_event
from claystream_common.kafka.producer import PublishError
from claystream_common.ports import RecordingPublisher
from claystream_monitor.services.feedback import record_feedback
from claystream_monitor.services.predictions import PredictionPorts, record_predictions
from monitor_synthetic import WORDS_B, stream
from test_use_cases import KEY, events, make_ports


class DriftPublishFailsOnce(RecordingPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def publish_many(self, events, *, keys=None, topic=None) -> None:  # type: ignore[no-untyped-def]
        if not self.failures and any(e.type == "drift.detected" for e in events):
            self.failures += 1
            raise PublishError("broker down")
        await super().publish_many(events, keys=keys, topic=topic)


async def deliver(batch, ports: PredictionPorts) -> int:  # type: ignore[no-untyped-def]
    """The consumer runner: a failed batch is handled again (same events, same ids)."""
    for attempt in range(3):
        try:
            await record_predictions(batch, ports=ports)
            return attempt
        except (PublishError, ConnectionError):
            continue
    raise AssertionError("still failing")


def shifted_traffic() -> list:
    traffic = events(stream(500, seed=3)) + events(stream(200, seed=4, words=WORDS_B, length=(4, 9), start=5_000))
    return [traffic[i:i + 80] for i in range(0, len(traffic), 80)]


def outcome(ports: PredictionPorts) -> dict:
    return {
        "drift": [(e.type, e.data.check) for e in ports.publisher.of_type("drift.detected")],
        "alerts": sorted(a["check"] for a in ports.store.alerts),
        "evaluations": sorted((e["kind"], e["index"]) for e in ports.store.evaluations),
    }


async def test_an_alert_whose_publish_failed_is_published_when_the_batch_is_retried() -> None:
    expected = make_ports()
    for batch in shifted_traffic():
        await deliver(batch, expected)
    assert outcome(expected)["drift"], "the new vocabulary must alert"

    ports = dataclasses.replace(make_ports(), publisher=DriftPublishFailsOnce())
    retries = [await deliver(batch, ports) for batch in shifted_traffic()]
    assert ports.publisher.failures == 1 and sum(retries) == 1
    assert outcome(ports) == outcome(expected)
    assert ports.engine.peek(KEY).events_seen == 700


async def accuracy_windows(*, fail_once: bool) -> list[tuple[int, int, float]]:
    """300 predictions, then feedback on 250 of them in batches of 50; the first write of a feedback
    evaluation fails when ``fail_once`` (the runner then handles the same batch again)."""
    observations = stream(300, seed=8)
    ports = make_ports()
    for start in range(0, 300, 80):
        await record_predictions(events(observations)[start:start + 80], ports=ports)
    store = ports.store
    original, failed = store.store_evaluations, []

    async def store_evaluations(key, documents):  # type: ignore[no-untyped-def]
        if fail_once and not failed and any(d["kind"] == "feedback" for d in documents):
            failed.append(key)
            raise ConnectionError("mongo down")
        await original(key, documents)

    store.store_evaluations = store_evaluations  # type: ignore[method-assign]
    for start in range(0, 250, 50):
        batch = [new_event("feedback.logged", FeedbackLogged(request_id=o.request_id, true_label="negative" if i % 3 else o.label),
                           workspace="acme") for i, o in enumerate(observations[start:start + 50])]
        try:
            await record_feedback(batch, engine=ports.engine, store=store, join=ports.join, publisher=ports.publisher)
        except ConnectionError:
            await record_feedback(batch, engine=ports.engine, store=store, join=ports.join, publisher=ports.publisher)
    assert bool(failed) is fail_once
    return [(e["index"], e["summary"]["n"], e["summary"]["accuracy"]) for e in store.evaluations if e["kind"] == "feedback"]


async def test_an_accuracy_evaluation_whose_write_failed_is_stored_when_the_feedback_is_retried() -> None:
    expected = await accuracy_windows(fail_once=False)
    assert expected, "the feedback must complete accuracy windows"
    assert await accuracy_windows(fail_once=True) == expected
