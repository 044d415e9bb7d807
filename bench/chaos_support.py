"""Shared pieces of ``bench/chaos.py``: the private system, what the clients saw, retried HTTP calls,
and reads of Kafka topics and ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from claystream_common.dlq_tool import read_topic
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import SERVICES, ServiceLauncher
from prometheus_client.parser import text_string_to_metric_families

WORKSPACE = "chaos"
DATASET = "imdb-chaos"
LABELS = ("positive", "negative")
RETRY_STATUS = {429, 500, 502, 503, 504}
OTHER_WORKSPACE = "chaos-other"  # sends feedback reusing the chaos workspace's request ids


@dataclass
class Tally:
    """What clients saw (thread-safe by the GIL for these simple set/list operations)."""

    accepted: set[str] = field(default_factory=set)
    rejected: list[str] = field(default_factory=list)
    submitted: set[tuple[str, str]] = field(default_factory=set)  # (record_id, user_id)
    predictions_accepted: int = 0
    replayed: int = 0
    client_retries: Counter[str] = field(default_factory=Counter)
    recovery_s: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    feedback_same_workspace: list[str] = field(default_factory=list)  # request ids given feedback in WORKSPACE
    feedback_other_workspace: list[str] = field(default_factory=list)  # request ids given feedback in OTHER_WORKSPACE only
    outbox_stuck_s: float | None = None


def fast_env() -> dict[str, str]:
    env = {
        "CLAYSTREAM_TRAINER_EMBEDDER": "hashing", "CLAYSTREAM_TRAINER_FINETUNE_ENABLED": "false",
        "CLAYSTREAM_TRAINER_DEBOUNCE_S": "0.5", "CLAYSTREAM_TRAINER_EMBED_FLUSH_S": "0.2",
        "CLAYSTREAM_MONITOR_EMBEDDER": "none", "CLAYSTREAM_ANNOTATE_OUTBOX_POLL_S": "0.2",
    }
    for spec in SERVICES:
        env |= {f"{spec.env_prefix}KAFKA_SESSION_TIMEOUT_MS": "6000", f"{spec.env_prefix}KAFKA_HEARTBEAT_INTERVAL_MS": "300",
                f"{spec.env_prefix}KAFKA_REBALANCE_TIMEOUT_MS": "6000", f"{spec.env_prefix}LOG_JSON": "false"}
    return env


@contextmanager
def running_system(state_dir: Path | None = None) -> Iterator[ServiceLauncher]:
    """A private stack and the four services; everything stopped (by pid) afterwards."""
    with tempfile.TemporaryDirectory(prefix="claystream-chaos-") as tmp:
        stack = EmbeddedStack(Path(state_dir or tmp), StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
        stack.start()
        launcher = ServiceLauncher(stack, extra_env=fast_env())
        launcher.ports = {spec.name: free_port() for spec in SERVICES}
        try:
            launcher.start(timeout_s=240)
            yield launcher
        finally:
            launcher.stop()
            stack.stop()


def service_headers(launcher: ServiceLauncher) -> dict[str, str]:
    return {"Authorization": f"Bearer {launcher.dev_secrets()['SERVICE_TOKEN']}", "X-Claystream-Workspace": WORKSPACE}


def call_with_retry(http: httpx.Client, method: str, url: str, tally: Tally, stop_at: float, **kwargs: Any) -> httpx.Response | None:
    """Retry connection errors and 429/5xx (same body: the APIs are idempotent) until ``stop_at``."""
    delay = 0.1
    while time.monotonic() < stop_at:
        try:
            response = http.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            tally.client_retries[type(error).__name__] += 1
        else:
            if response.status_code not in RETRY_STATUS:
                return response
            tally.client_retries[str(response.status_code)] += 1
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    return None


def label_next(http: httpx.Client, base: str, tally: Tally, stop_at: float) -> str | None:
    """Take the caller's next record and submit a label; returns the response id (None: nothing done)."""
    nxt = call_with_retry(http, "GET", f"{base}/queue/next", tally, stop_at)
    if nxt is None or nxt.status_code == 204:
        time.sleep(0.2)
        return None
    if nxt.status_code != 200:
        tally.errors.append(f"queue/next {nxt.status_code} {nxt.text[:200]}")
        time.sleep(0.5)
        return None
    record = nxt.json()
    record_id = str(record.get("id") or record.get("record", {}).get("id"))
    label = LABELS[int(record_id.replace("-", "")[-1], 16) % 2]
    put = call_with_retry(http, "PUT", f"{base}/records/{record_id}/response", tally, stop_at,
                          json={"status": "submitted", "values": {"sentiment": label}})
    if put is not None and put.status_code == 200:
        user_id = str(put.json()["user_id"])
        tally.submitted.add((record_id, user_id))
        return f"{record_id}:{user_id}"
    if put is not None:
        tally.errors.append(f"PUT response {put.status_code} {put.text[:200]}")
    return None


def replay_label_events(launcher: ServiceLauncher, limit: int) -> int:
    """Re-publish up to ``limit`` already-delivered ``response.submitted`` events (same bytes, same event ids):
    the trainer must absorb them (fence) and count nothing twice."""

    async def replay() -> int:
        entries = [e for e in await read_topic(launcher.stack.ports.kafka_bootstrap, "responses")
                   if b'"response.submitted"' in (e.value or b"")][:limit]
        producer = AIOKafkaProducer(bootstrap_servers=launcher.stack.ports.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for entry in entries:
                await producer.send_and_wait("responses", entry.value, key=entry.key, headers=list(entry.headers))
        finally:
            await producer.stop()
        return len(entries)

    return asyncio.run(replay())


def label_event_duplicates(launcher: ServiceLauncher) -> int:
    """``response.submitted`` messages on the topic minus distinct event ids: deliveries the trainer must absorb.
    (The trainer's runner has no processed-event fence; its Redis ``SET NX trainer:counted:<event id>`` is the
    fence, so these do not show in ``claystream_duplicates_absorbed_total``.)"""
    entries = asyncio.run(read_topic(launcher.stack.ports.kafka_bootstrap, "responses"))
    ids = [json.loads(e.value)["event_id"] for e in entries if e.value and b'"response.submitted"' in e.value]
    return len(ids) - len(set(ids))


def metric_samples(url: str, family_name: str) -> list[tuple[dict[str, str], float]]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return [(dict(s.labels), s.value) for fam in text_string_to_metric_families(text) if fam.name == family_name
            for s in fam.samples if not s.name.endswith("_created")]
