"""The use cases with fakes of every port: events in, stored rows, drift events and samples out."""

from __future__ import annotations

from claystream_common.events import Envelope, FeedbackLogged, ModelPromoted, PredictionLogged, new_event
from claystream_common.ports import RecordingPublisher
from claystream_monitor.drift.monitor import DriftConfig
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.feedback import feedback_id, record_feedback
from claystream_monitor.services.models import on_model_promoted
from claystream_monitor.services.ports import ModelKey
from claystream_monitor.services.predictions import PredictionPorts, SamplingPolicy, record_predictions
from claystream_monitor.services.sampling import stratified_sample
from monitor_fakes import CountingLimiter, FixedDirectory, MemoryJoin, MemoryStore, RecordingSink
from monitor_synthetic import WORDS_B, stream

CONFIG = DriftConfig(window_size=100, stride=25, reference_size=300, feedback_window=30, feedback_stride=10,
                     feedback_reference_size=50, checks=(
    "label_distribution", "score_distribution", "text_length", "oov_share", "low_confidence", "accuracy"))
KEY = ModelKey("acme", "reviews", "v1")


def make_ports(*, per_alert: int = 10, per_hour: int = 15) -> PredictionPorts:
    store = MemoryStore()
    return PredictionPorts(
        engine=MonitorEngine(CONFIG, store=store, embedder=None), store=store, join=MemoryJoin(),
        publisher=RecordingPublisher(), sink=RecordingSink(), limiter=CountingLimiter(),
        directory=FixedDirectory({"reviews": ("review", "sentiment")}),
        sampling=SamplingPolicy(None, per_alert, per_hour),
    )


def events(observations) -> list[Envelope[PredictionLogged]]:  # type: ignore[no-untyped-def]
    return [
        new_event("prediction.logged", PredictionLogged(
            request_id=o.request_id, model="reviews", model_version="v1", text=o.text, predicted_label=o.label,
            scores={o.label: o.score, "other": 1 - o.score}), dataset="reviews", workspace="acme")
        for o in observations
    ]


async def feed(ports: PredictionPorts, batch: list[Envelope[PredictionLogged]], size: int = 80) -> None:
    for start in range(0, len(batch), size):
        await record_predictions(batch[start:start + size], ports=ports)


async def test_stationary_traffic_is_stored_and_windowed_without_alerts() -> None:
    ports = make_ports()
    await feed(ports, events(stream(900, seed=1)))
    store = ports.store
    assert sum(len(b["request_ids"]) for b in store.buckets) == 900
    assert sum(row["count"] for row in store.traffic.values()) == 900
    assert KEY.id in store.references
    assert len(store.evaluations) == (900 - 300 - 100) // 25 + 1
    assert store.alerts == [] and ports.publisher.published == [] and ports.sink.deliveries == []


async def test_redelivered_events_are_not_counted_twice() -> None:
    ports = make_ports()
    batch = events(stream(350, seed=2))
    await feed(ports, batch)
    await feed(ports, batch[-50:])
    assert sum(len(b["request_ids"]) for b in ports.store.buckets) == 350
    assert ports.engine.peek(KEY).events_seen == 350


async def test_a_shift_publishes_drift_detected_and_sends_a_stratified_deduplicated_rate_limited_sample() -> None:
    ports = make_ports(per_alert=10, per_hour=15)
    await feed(ports, events(stream(500, seed=3)))
    shifted = stream(200, seed=4, words=WORDS_B, length=(4, 9), start=5_000)
    shifted += [o.__class__(f"dup-{i}", o.label, o.score, o.text) for i, o in enumerate(shifted[:30])]  # repeated texts
    await feed(ports, events(shifted))
    detected = ports.publisher.of_type("drift.detected")
    assert detected, "a new vocabulary must alert"
    first = detected[0]
    assert first.workspace == "acme" and first.dataset == "reviews"
    assert first.data.model == "reviews" and first.data.model_version == "v1"
    assert first.data.p_value < CONFIG.check_alpha and first.data.statistic > first.data.threshold
    assert first.data.window["events_seen"] > 500
    assert {a["check"] for a in ports.store.alerts} == {e.data.check for e in detected}

    records = ports.sink.records
    assert 0 < len(records) <= 15, "rate limit: 15 per hour"
    texts = [r["fields"]["review"] for r in records]
    assert len(set(texts)) == len(texts), "deduplicated"
    assert all(t.startswith("beta") for t in texts[:10]), "the first sample comes from the shifted window"
    labels = [r["metadata"]["predicted_label"] for r in ports.sink.deliveries[0]["records"]]
    assert abs(labels.count("positive") - labels.count("negative")) <= 1, "stratified by predicted label"
    suggestion = records[0]["suggestions"][0]
    assert suggestion["question"] == "sentiment" and suggestion["value"] == records[0]["metadata"]["predicted_label"]
    assert suggestion["model_version"] == "v1" and records[0]["metadata"]["origin"] == "monitor"
    assert ports.sink.deliveries[0]["workspace"] == "acme" and ports.sink.deliveries[0]["dataset"] == "reviews"


async def test_what_is_sampled_does_not_depend_on_how_the_stream_is_cut_into_batches() -> None:
    """Each evaluation that routes samples draws from its own newest events, not from the end of the batch
    that happened to hold it: a poll of 4,000 events and polls of 50 send the same records."""
    stream_events = events(stream(500, seed=7) + stream(600, seed=8, words=WORDS_B, length=(4, 9), start=5_000))
    sent = {}
    for size in (37, 80, 1100):
        ports = make_ports(per_alert=5, per_hour=1000)
        await feed(ports, stream_events, size=size)
        sent[size] = [(r["metadata"]["request_id"], r["metadata"]["reason"]) for r in ports.sink.records]
    assert len(sent[1100]) > 5, "an alert that stays on keeps routing fresh samples"
    assert sent[37] == sent[80] == sent[1100]


async def test_a_failing_sink_does_not_fail_the_batch_and_is_recorded() -> None:
    ports = make_ports()
    ports.sink.fail_with = RuntimeError("ingest down")
    await feed(ports, events(stream(500, seed=5)))
    await feed(ports, events(stream(150, seed=6, words=WORDS_B, length=(4, 9), start=5_000)))
    assert ports.publisher.of_type("drift.detected")
    assert ports.store.samples and all(s["status"] == "failed" for s in ports.store.samples.values())


def test_stratified_sample_balances_labels_and_prefers_low_confidence() -> None:
    observations = stream(60, seed=7)
    picked = stratified_sample(observations, 10)
    assert len(picked) == 10
    assert sum(o.label == "positive" for o in picked) == 5
    positives = sorted((o for o in observations if o.label == "positive"), key=lambda o: o.score)
    assert picked[0].score == min(o.score for o in observations if o.label == picked[0].label)
    assert {o.request_id for o in picked if o.label == "positive"} == {o.request_id for o in positives[:5]}


async def test_feedback_joins_now_or_when_its_prediction_arrives_and_feeds_accuracy() -> None:
    ports = make_ports()
    observations = stream(300, seed=8)
    early = [new_event("feedback.logged", FeedbackLogged(request_id=observations[-1].request_id, true_label="positive"), workspace="acme")]
    await record_feedback(early, engine=ports.engine, store=ports.store, join=ports.join, publisher=ports.publisher)
    row = feedback_id("acme", None, observations[-1].request_id)
    assert ports.store.feedback[row]["matched"] is False
    await feed(ports, events(observations))
    assert ports.store.feedback[row]["matched"] is True
    later = [new_event("feedback.logged", FeedbackLogged(request_id=o.request_id, true_label=o.label), workspace="acme") for o in observations[:250]]
    await record_feedback(later, engine=ports.engine, store=ports.store, join=ports.join, publisher=ports.publisher)
    joined = [f for f in ports.store.feedback.values() if f["matched"]]
    assert len(joined) == 251 and all(f["correct"] for f in joined if f["request_id"] != observations[-1].request_id)
    accuracy = [e for e in ports.store.evaluations if e["kind"] == "feedback"]
    assert accuracy and accuracy[-1]["summary"]["accuracy"] == 1.0


async def test_promotion_with_validation_reference_sets_the_accuracy_baseline() -> None:
    ports = make_ports()
    promoted = new_event("model.promoted", ModelPromoted(model_version="v1", metrics={"accuracy": 0.9}, labels=["a", "b"]),
                         dataset="reviews", workspace="acme")
    await on_model_promoted(promoted, engine=ports.engine, store=ports.store, reference_source="validation")
    monitor = await ports.engine.monitor_for(KEY)
    assert monitor.reference_accuracy == 0.9
    assert ports.store.models[KEY.id]["champion"] is True


async def test_a_batch_whose_storage_failed_is_processed_again_on_redelivery() -> None:
    ports = make_ports()
    batch = events(stream(120, seed=9))
    store = ports.store
    original = store.store_predictions

    async def failing(key, bucket):  # type: ignore[no-untyped-def]
        raise ConnectionError("mongo down")

    store.store_predictions = failing  # type: ignore[method-assign]
    try:
        await record_predictions(batch, ports=ports)
    except ConnectionError:
        pass
    store.store_predictions = original  # type: ignore[method-assign]
    await record_predictions(batch, ports=ports)  # the runner redelivers
    assert sum(len(b["request_ids"]) for b in store.buckets) == 120
    assert ports.engine.peek(KEY).events_seen == 120


async def test_feedback_never_joins_a_prediction_of_another_workspace() -> None:
    """Issue 17 finding 4: workspace B reusing request id "1" must not touch A's accuracy."""
    ports = make_ports()
    observations = stream(300, seed=9)
    await feed(ports, events(observations))  # workspace acme, request ids of its own
    wrong = {o.label: ("negative" if o.label == "positive" else "positive") for o in observations}
    elsewhere = [new_event("feedback.logged", FeedbackLogged(request_id=o.request_id, true_label=wrong[o.label]), workspace="other")
                 for o in observations[:250]]
    await record_feedback(elsewhere, engine=ports.engine, store=ports.store, join=ports.join, publisher=ports.publisher)
    assert not [f for f in ports.store.feedback.values() if f["matched"]], "nothing of workspace other joins acme's predictions"
    assert not [e for e in ports.store.evaluations if e["kind"] == "feedback"]
    assert {f["workspace"] for f in ports.store.feedback.values()} == {"other"}
    early = [new_event("feedback.logged", FeedbackLogged(request_id="late-1", true_label="positive"), workspace="other")]
    await record_feedback(early, engine=ports.engine, store=ports.store, join=ports.join, publisher=ports.publisher)
    late = [new_event("prediction.logged", PredictionLogged(request_id="late-1", model="reviews", model_version="v1", text="fine",
                                                            predicted_label="negative", scores={"negative": 0.9}), workspace="acme")]
    await record_predictions(late, ports=ports)  # parked feedback of another workspace waits on
    assert not [f for f in ports.store.feedback.values() if f["matched"]]


async def test_feedback_naming_a_model_joins_only_that_models_prediction() -> None:
    ports = make_ports()
    [observation] = stream(1, seed=11)
    for model in ("reviews", "shadow"):
        batch = [new_event("prediction.logged", PredictionLogged(
            request_id="1", model=model, model_version="v1", text=observation.text, predicted_label="positive" if model == "reviews" else "negative",
            scores={"positive": 0.9}), workspace="acme")]
        await record_predictions(batch, ports=ports)
    await record_feedback([new_event("feedback.logged", FeedbackLogged(request_id="1", model="reviews", true_label="positive"), workspace="acme")],
                          engine=ports.engine, store=ports.store, join=ports.join, publisher=ports.publisher)
    [row] = [f for f in ports.store.feedback.values() if f["matched"]]
    assert (row["model"], row["predicted_label"], row["correct"]) == ("reviews", "positive", True)
