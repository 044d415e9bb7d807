"""Helpers of ``bench/learning_loop.py``: the stack, the data selection, the Kafka watch, predict, replay.

Not a benchmark itself (the leading underscore): the bench imports it from its own folder.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from claystream_common.datasets import record_id_for
from claystream_common.events import decode_event
from claystream_common.topics import Topic
from claystream_devstack.processes import cpu_seconds, free_port, read_pid, state_pids
from claystream_devstack.processes import peak_rss_mb as process_peak_rss_mb
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import SERVICE_BY_NAME, ServiceLauncher
from sklearn.metrics import accuracy_score, f1_score

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CLAYSTREAM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "imdb"
WS, DS, QUESTION = "bench", "imdb", "sentiment"
SERVICES = ("ingest", "annotate", "trainer")
TRAINER = {"refresh_every": 8, "min_per_label": 2, "finetune_every": 100_000}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load(name: str) -> list[dict[str, Any]]:
    with gzip.open(DATA / name, "rt") as handle:
        return [json.loads(line) for line in handle]


@dataclass
class Selection:
    """The walkthrough's records, by annotate record id (``record_id_for`` of the IMDb id)."""

    labelled: list[dict[str, Any]]
    pending_train: list[dict[str, Any]]
    test: list[dict[str, Any]]
    texts: dict[str, str] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for row in self.labelled + self.pending_train + self.test:
            self.texts[self.rid(row)] = row["text"]
            self.truth[self.rid(row)] = str(row["label"])

    @staticmethod
    def rid(row: dict[str, Any]) -> str:
        return record_id_for(WS, DS, str(row["id"]))

    def ids(self, rows: list[dict[str, Any]]) -> list[str]:
        return [self.rid(r) for r in rows]


def select(pending_train: int, test: int) -> Selection:
    """100 random train reviews to label (seed 42); ``pending_train`` other train reviews (seed 43) and
    ``test`` test reviews (seed 42) stay pending."""
    train, test_rows = load("train.jsonl.gz"), load("test.jsonl.gz")
    labelled = random.Random(42).sample(train, 100)
    chosen = {r["id"] for r in labelled}
    others = random.Random(43).sample([r for r in train if r["id"] not in chosen], pending_train)
    return Selection(labelled, others, random.Random(42).sample(test_rows, test))


def start_services(state: Path, max_steps: int) -> tuple[EmbeddedStack, ServiceLauncher]:
    """Embedded Kafka / MongoDB / Redis and ingest, annotate, trainer (real MiniLM) on free ports."""
    stack = EmbeddedStack(state, StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
    stack.start()
    env = {"CLAYSTREAM_TRAINER_FINETUNE_MAX_STEPS": str(max_steps)}
    for name in SERVICES:  # quick group joins and rebalances
        prefix = SERVICE_BY_NAME[name].env_prefix
        env |= {f"{prefix}KAFKA_SESSION_TIMEOUT_MS": "6000", f"{prefix}KAFKA_HEARTBEAT_INTERVAL_MS": "300",
                f"{prefix}KAFKA_REBALANCE_TIMEOUT_MS": "6000", f"{prefix}LOG_JSON": "false"}
    launcher = ServiceLauncher(stack, extra_env=env)
    launcher.ports = {name: free_port() for name in SERVICES}  # never the default 800x ports
    try:
        launcher.start(SERVICES, timeout_s=240)
    except BaseException:
        launcher.stop(SERVICES)
        stack.stop()
        raise
    return stack, launcher


class Watch:
    """Suggestion and model events of the bench dataset (a private consumer group, from the end)."""

    def __init__(self, bootstrap: str, dataset: str = DS) -> None:
        self.dataset = dataset
        self.consumer = AIOKafkaConsumer(Topic.SUGGESTIONS.value, Topic.MODELS.value, bootstrap_servers=bootstrap,
                                         group_id=f"bench-{uuid.uuid4().hex[:8]}", auto_offset_reset="latest")
        self.suggestions: dict[str, dict[str, Any]] = {}  # version → record → label (a list: multi-label)
        self.models: list[tuple[float, Any]] = []  # (time.perf_counter() on arrival, event)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=200)
        await self.consumer.seek_to_end()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.perf_counter()
            for messages in batches.values():
                for message in messages:
                    event = decode_event(message.value)
                    if event.dataset != self.dataset:
                        continue
                    if event.type == "suggestion.created":
                        data = event.data
                        self.suggestions.setdefault(data.model_version, {})[data.record_id] = data.label
                    else:
                        self.models.append((now, event))

    def of(self, event_type: str, **match: object) -> list[Any]:
        return [e for _, e in self.models if e.type == event_type
                and all(getattr(e.data, k, None) == v for k, v in match.items())]

    def arrived(self, event_type: str, **match: object) -> float | None:
        """When the first matching event arrived (``time.perf_counter()``)."""
        return next((t for t, e in self.models if e.type == event_type
                     and all(getattr(e.data, k, None) == v for k, v in match.items())), None)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        await self.consumer.stop()


async def wait(predicate: Callable[[], Awaitable[Any]], timeout_s: float, what: str, *,
               every_s: float = 0.2, progress: Callable[[], Awaitable[str]] | None = None,
               progress_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    shown = time.monotonic()
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        if progress is not None and time.monotonic() - shown >= progress_s:
            shown = time.monotonic()
            say(f"  … still waiting for {what}: {await progress()}")
        await asyncio.sleep(every_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def trainer_client(launcher: ServiceLauncher, workspace: str = WS, dataset: str = DS) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {launcher.dev_secrets()['SERVICE_TOKEN']}", "X-Claystream-Workspace": workspace}
    return httpx.AsyncClient(base_url=f"{launcher.url('trainer')}/api/v1/models/{dataset}", timeout=600,
                             headers=headers)


async def model_list(client: httpx.AsyncClient) -> dict[str, Any]:
    """GET /api/v1/models/{dataset} (the base URL itself: httpx would add a trailing slash to a relative "")."""
    answer = await client.get(str(client.base_url).rstrip("/"))
    answer.raise_for_status()
    return dict(answer.json())


async def predict_all(client: httpx.AsyncClient, texts: list[str],
                      **extra: Any) -> tuple[list[str], set[str], set[str]]:
    """Labels for ``texts`` (batches of 256), with the model versions and components that answered."""
    labels: list[str] = []
    versions: set[str] = set()
    components: set[str] = set()
    for i in range(0, len(texts), 256):
        answer = await client.post("/predict", json={"texts": texts[i:i + 256], **extra})
        answer.raise_for_status()
        body = answer.json()
        labels += [p["label"] for p in body["predictions"]]
        versions.add(body["model_version"])
        components.add(body["component"])
    return labels, versions, components


def scores(y_true: list[str], y_pred: list[str]) -> tuple[float, float]:
    return round(float(accuracy_score(y_true, y_pred)), 4), round(float(f1_score(y_true, y_pred, average="macro")), 4)


def replay(state: Path, sel: Selection, pool: list[str], test: list[str], first_draw: list[str]) -> Any:
    """``labels_to_match`` on the trainer's own embedding cache (the base body's vectors)."""
    from claystream_trainer.adapters.file_embedding_cache import FileEmbeddingCache
    from claystream_trainer.domain.label_efficiency import labels_to_match
    from claystream_trainer.domain.ports import DatasetKey

    models = state / "models"
    body = next(p.name for p in (models / "cache" / WS / DS).iterdir() if p.name.startswith("base-"))
    vectors = FileEmbeddingCache(models).get_many(DatasetKey(WS, DS), body, pool + test)
    missing = [r for r in pool + test if r not in vectors]
    if missing:
        raise RuntimeError(f"{len(missing)} records have no {body} vector in the trainer's cache")
    return labels_to_match(sel.texts, vectors, sel.truth, pool, test, first_draw=first_draw)


async def wait_quiet(state: Path, *, below: float = 0.15, window_s: float = 1.0, timeout_s: float = 60.0) -> tuple[float, float]:
    """Until every process of the stack together used less than ``below`` of one core for ``window_s`` (the
    work a previous step queued, such as re-ranking a suggestion burst, would otherwise be timed with predict).
    Returns (seconds waited, the share of the last window)."""
    pids = list(state_pids(state).values())
    began = time.perf_counter()
    while True:
        before = sum(cpu_seconds(pid) for pid in pids)
        await asyncio.sleep(window_s)
        share = (sum(cpu_seconds(pid) for pid in pids) - before) / window_s
        if share < below or time.perf_counter() - began > timeout_s:
            return time.perf_counter() - began, share


def peak_rss_mb(state: Path, name: str = "trainer") -> float | None:
    pid = read_pid(state, name)
    if pid is None:
        return None
    peak = process_peak_rss_mb(pid)
    return None if math.isnan(peak) else round(peak, 1)


def set_up(launcher: ServiceLauncher, api: Any) -> tuple[Any, Any]:
    """As the demo does it: annotator (annotate CLI), SDK API key, the dataset; returns (credentials, SDK client)."""
    import claystream
    from claystream_devstack.demo_setup import CredentialStore, ensure_annotator, ensure_api_key, ensure_dataset

    store = CredentialStore(launcher.stack.state_dir / "demo-credentials.json")
    credentials = ensure_annotator(api, store, username="annotator",
                                   annotate_env=launcher.env_for(SERVICE_BY_NAME["annotate"]))
    key = ensure_api_key(api, store, credentials)
    say(f"workspace {WS}, annotator {credentials.annotator_username}, dataset {DS}: {ensure_dataset(api, TRAINER)} "
        f"(trainer settings {TRAINER})")
    return credentials, claystream.Client(api.urls.ingest, key, api.urls.annotate)
