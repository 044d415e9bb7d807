"""The invariants ``bench/chaos.py`` checks once the load is over (MongoDB, Redis, Kafka and ``/metrics``
read directly), and the probes that exercise them: a poison outbox entry and feedback from another
workspace reusing request ids."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from claystream_devstack.services import SERVICES, ServiceLauncher
from pymongo import MongoClient
from redis import Redis

if TYPE_CHECKING:
    from chaos import ChaosConfig

from chaos_support import DATASET, WORKSPACE, Tally, label_event_duplicates, label_next, metric_samples, service_headers

POISON_RESPONSE = "!chaos-poison:bench"  # sorts before every real response id: the relay reads it first
OUTBOX_GOAL_S = 5.0


def poison_the_outbox(launcher: ServiceLauncher, tally: Tally, *, timeout_s: float) -> float | None:
    """Put an undecodable entry at the head of annotate's outbox, submit a label right after it, and
    time until the relay moved past both (the poison in ``outbox_quarantine``, the label published).
    None: it never did within ``timeout_s``."""
    base = f"{launcher.url('annotate')}/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}"
    with MongoClient(launcher.stack.ports.mongo_url) as client, httpx.Client(headers=service_headers(launcher), timeout=30) as http:
        db = client["claystream"]
        dataset = db["datasets"].find_one({"workspace": WORKSPACE, "name": DATASET}) or {}
        db["responses"].replace_one({"_id": POISON_RESPONSE}, {  # _id repeated: nx-27017 ignores the filter's on upsert
            "_id": POISON_RESPONSE, "record_id": "!chaos-poison", "dataset_id": dataset.get("_id"), "workspace": WORKSPACE, "user_id": "bench",
            "status": "draft", "values": {}, "version": 1, "outbox": ['{"type": "response.submitted", "data": {"trunc'],
            "outbox_pending": True}, upsert=True)
        injected = time.monotonic()
        key = http.post(f"{launcher.url('annotate')}/api/v1/workspaces/{WORKSPACE}/api-keys", json={"name": "probe", "role": "annotator"})
        labelled = None
        with httpx.Client(headers={"X-API-Key": key.json().get("api_key", "")}, timeout=30) as annotator:
            while labelled is None and time.monotonic() - injected < timeout_s:
                labelled = label_next(annotator, base, tally, injected + timeout_s)
        watched = [POISON_RESPONSE, labelled]
        while time.monotonic() - injected < timeout_s:
            behind = db["responses"].count_documents({"_id": {"$in": watched}, "outbox_pending": True})
            if behind == 0 and db["outbox_quarantine"].count_documents({"response_id": POISON_RESPONSE}) == 1:
                return round(time.monotonic() - injected, 2)
            time.sleep(0.05)
    return None

@dataclass
class Observed:
    records_stored: int = 0
    record_id_dupes: int = 0
    missing_records: int = 0
    responses_stored: int = 0
    missing_responses: int = 0
    labels_counted: int = 0
    trainer_status_labels: int = 0
    outbox_pending: int = 0
    outbox_gauge: float = 0.0
    max_lag: float = 0.0
    fence_absorbed: int = 0
    label_event_duplicates: int = 0
    predictions_stored: int = 0
    records_not_queued: int = 0  # pending records missing from the annotation queue
    feedback_rows: int = 0
    feedback_joined: int = 0  # feedback from the predictions' own workspace that joined
    cross_workspace_joins: int = 0  # feedback from another workspace that joined (must be 0)
    quarantined: int = 0

    @property
    def duplicates_absorbed(self) -> int:
        return self.fence_absorbed + self.label_event_duplicates

    def settled(self, tally: Tally) -> bool:
        return (self.missing_records == 0 and self.missing_responses == 0 and self.outbox_pending == 0
                and self.labels_counted >= len(tally.submitted) and self.max_lag == 0
                and self.label_event_duplicates >= tally.replayed
                and self.feedback_rows >= len(tally.feedback_same_workspace) + len(tally.feedback_other_workspace))


def observe(launcher: ServiceLauncher, tally: Tally) -> Observed:
    out = Observed()
    with MongoClient(launcher.stack.ports.mongo_url) as client:
        db = client["claystream"]
        ids = Counter(str(d.get("external_id")) for d in
                      db["records"].find({"workspace": WORKSPACE, "dataset": DATASET}, {"external_id": 1}))
        out.records_stored = sum(ids.values())
        out.record_id_dupes = sum(n - 1 for n in ids.values() if n > 1)
        out.missing_records = len(tally.accepted - set(ids))
        responses = list(db["responses"].find({"workspace": WORKSPACE, "status": "submitted"}, {"record_id": 1, "user_id": 1}))
        keys = {(str(r["record_id"]), str(r["user_id"])) for r in responses}
        out.responses_stored = len(responses)
        out.missing_responses = len(tally.submitted - keys)
        out.outbox_pending = db["responses"].count_documents({"outbox_pending": True})
        out.predictions_stored = sum(int(d.get("count", 0)) for d in db["monitor_predictions"].find({}, {"count": 1}))
        dataset_id = (db["datasets"].find_one({"workspace": WORKSPACE, "name": DATASET}) or {}).get("_id")
        pending = {d["_id"] for d in db["records"].find({"dataset_id": dataset_id, "status": "pending"}, {"_id": 1})}
        fed = tally.feedback_same_workspace + tally.feedback_other_workspace
        out.feedback_rows = db["monitor_feedback"].count_documents({"request_id": {"$in": fed}})
        out.feedback_joined = db["monitor_feedback"].count_documents({"request_id": {"$in": tally.feedback_same_workspace}, "matched": True})
        out.cross_workspace_joins = db["monitor_feedback"].count_documents({"request_id": {"$in": tally.feedback_other_workspace}, "matched": True})
        out.quarantined = db["outbox_quarantine"].count_documents({})
    out.label_event_duplicates = label_event_duplicates(launcher)
    with Redis.from_url(launcher.stack.ports.redis_url, decode_responses=True) as redis:
        counts = redis.hgetall(f"trainer:counts:{WORKSPACE}:{DATASET}")
        out.labels_counted = sum(int(v) for k, v in counts.items() if k.startswith("class:"))
        out.records_not_queued = len(pending - set(redis.zrange(f"cs:q:{dataset_id}", 0, -1)))
    try:
        status = httpx.get(f"{launcher.url('trainer')}/api/v1/models/{DATASET}/status", headers=service_headers(launcher), timeout=10)
        out.trainer_status_labels = sum(status.json().get("labels_per_class", {}).values()) if status.status_code == 200 else -1
        out.outbox_gauge = sum(v for _, v in metric_samples(launcher.url("annotate"), "claystream_outbox_backlog"))
        lags = [v for name in ("annotate", "trainer", "monitor")
                for _, v in metric_samples(launcher.url(name), "claystream_consumer_lag")]
        out.max_lag = max(lags, default=0.0)
        out.fence_absorbed = int(sum(v for spec in SERVICES
                                     for _, v in metric_samples(launcher.url(spec.name), "claystream_duplicates_absorbed")))
    except httpx.HTTPError as error:
        out.max_lag = -1
        tally.errors.append(f"metrics: {error!r}")
    return out


def settle(launcher: ServiceLauncher, tally: Tally, timeout_s: float) -> tuple[Observed, float]:
    started = time.monotonic()
    while True:
        seen = observe(launcher, tally)
        if seen.settled(tally) or time.monotonic() - started > timeout_s:
            return seen, time.monotonic() - started
        time.sleep(1.0)


def problems(tally: Tally, seen: Observed, cfg: ChaosConfig) -> list[str]:
    found = []
    if seen.missing_records:
        found.append(f"{seen.missing_records} accepted records not stored")
    if seen.record_id_dupes:
        found.append(f"{seen.record_id_dupes} records stored twice")
    if seen.missing_responses:
        found.append(f"{seen.missing_responses} submitted responses missing")
    if seen.responses_stored != len(tally.submitted):
        found.append(f"{seen.responses_stored} submitted responses stored, {len(tally.submitted)} submitted")
    if seen.labels_counted != len(tally.submitted):
        found.append(f"trainer counted {seen.labels_counted} labels, {len(tally.submitted)} submitted")
    if seen.outbox_pending or seen.outbox_gauge:
        found.append(f"outbox not drained: {seen.outbox_pending} pending documents, gauge {seen.outbox_gauge}")
    if seen.max_lag != 0:
        found.append(f"consumer lag {seen.max_lag} at the end")
    if seen.label_event_duplicates < tally.replayed:
        found.append(f"{tally.replayed} label events re-published, only {seen.label_event_duplicates} duplicates seen")
    if seen.records_not_queued:
        found.append(f"{seen.records_not_queued} stored pending records are not in the annotation queue")
    if tally.outbox_stuck_s is None or tally.outbox_stuck_s > OUTBOX_GOAL_S:
        found.append(f"the outbox relay took {tally.outbox_stuck_s or 'forever'} s to move past a poison entry (goal {OUTBOX_GOAL_S:g} s)")
    if seen.cross_workspace_joins:
        found.append(f"{seen.cross_workspace_joins} feedback items joined predictions of another workspace")
    if seen.feedback_joined != len(tally.feedback_same_workspace):
        found.append(f"{seen.feedback_joined} of {len(tally.feedback_same_workspace)} same-workspace feedback items joined")
    if tally.rejected:
        found.append(f"{len(tally.rejected)} ingest batches not accepted, first: {tally.rejected[0]}")
    if set(tally.recovery_s) != set(cfg.kill_order):
        found.append(f"not every service was killed and recovered: {tally.recovery_s}")
    return found


def report(tally: Tally, seen: Observed, settle_s: float) -> dict[str, Any]:
    print(f"records accepted / stored:   {len(tally.accepted)} / {seen.records_stored} "
          f"(missing {seen.missing_records}, stored twice {seen.record_id_dupes}, rejected batches {len(tally.rejected)})")
    print(f"labels submitted / stored / counted: {len(tally.submitted)} / {seen.responses_stored} / {seen.labels_counted} "
          f"(trainer status labels_per_class total {seen.trainer_status_labels})")
    print(f"predictions accepted / stored by monitor: {tally.predictions_accepted} / {seen.predictions_stored}")
    print(f"duplicates absorbed: {seen.duplicates_absorbed} = {seen.label_event_duplicates} duplicate response.submitted "
          f"deliveries (same event id) the trainer's count-once fence absorbed + {seen.fence_absorbed} absorbed by the "
          f"runners' processed-event fences since each service's last start")
    print(f"outbox pending: {seen.outbox_pending} (gauge {seen.outbox_gauge}); max consumer lag: {seen.max_lag}")
    print(f"records pending but not queued: {seen.records_not_queued}; outbox past a poison entry in {tally.outbox_stuck_s} s "
          f"({seen.quarantined} quarantined)")
    print(f"feedback joined in its workspace: {seen.feedback_joined}/{len(tally.feedback_same_workspace)}; "
          f"joined across workspaces: {seen.cross_workspace_joins} (of {len(tally.feedback_other_workspace)} sent from another)")
    print(f"client retries: {dict(tally.client_retries)}; settled {settle_s:.1f}s after the load")
    for name, seconds in tally.recovery_s.items():
        print(f"recovery {name}: {seconds:.2f}s (kill -9 → /readyz 200)")
    for error in tally.errors[:10]:
        print(f"client error: {error}")
    return {"records_accepted": len(tally.accepted), "records_stored": seen.records_stored,
            "labels_submitted": len(tally.submitted), "labels_counted": seen.labels_counted,
            "duplicates_absorbed": seen.duplicates_absorbed,
            "max_recovery_s": max(tally.recovery_s.values(), default=None),
            "records_not_queued": seen.records_not_queued, "outbox_stuck_s": tally.outbox_stuck_s,
            "cross_workspace_joins": seen.cross_workspace_joins}
