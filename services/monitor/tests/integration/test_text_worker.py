"""The text feature worker as the service runs it: a real process, killed, restarted, and holding fewer
vocabularies than it was sent."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from claystream_monitor.adapters import text_process
from claystream_monitor.adapters.text_process import VOCABULARIES_KEPT, ProcessTextFeatures
from claystream_monitor.drift.text import text_features

TEXTS = ["A <br /> GREAT film, isn't it?", "", "Ünïcode — naïve café", "plain words only", "the film " * 300]
VOCABULARY = frozenset({"a", "great", "film", "isn't", "it", "plain", "the"})


@pytest.fixture
def worker():  # type: ignore[no-untyped-def]
    features = ProcessTextFeatures()
    yield features
    features.close()


async def test_the_worker_measures_what_the_window_would(worker: ProcessTextFeatures) -> None:
    assert await worker.measure(TEXTS, VOCABULARY) == text_features(TEXTS, VOCABULARY)
    assert worker.worker_pids() and os.getpid() not in worker.worker_pids()
    assert await worker.measure(TEXTS[::-1], VOCABULARY) == text_features(TEXTS[::-1], VOCABULARY)  # vocabulary held
    assert await worker.measure([], VOCABULARY) == []


async def test_a_killed_worker_costs_no_batch_and_the_next_one_gets_a_new_worker(worker: ProcessTextFeatures) -> None:
    await worker.measure(TEXTS, VOCABULARY)
    [first] = worker.worker_pids()
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(first):
        await asyncio.sleep(0.05)
    assert await worker.measure(TEXTS, VOCABULARY) == text_features(TEXTS, VOCABULARY)  # measured in a thread
    assert worker.restarts == 1
    assert await worker.measure(TEXTS, VOCABULARY) == text_features(TEXTS, VOCABULARY)  # a new worker, sent it again
    assert worker.worker_pids() and first not in worker.worker_pids()


async def test_a_stop_signalled_to_the_process_group_leaves_the_worker_to_finish(worker: ProcessTextFeatures) -> None:
    """Ctrl-C or the devstack's stop signal every process of the group: the worker used to die at once, and the
    service's last batch, measured during its graceful stop, logged a lost worker."""
    await worker.measure(TEXTS, VOCABULARY)
    [first] = worker.worker_pids()
    for stop in (signal.SIGTERM, signal.SIGINT):
        os.kill(first, stop)
    await asyncio.sleep(0.3)
    assert await worker.measure(TEXTS, VOCABULARY) == text_features(TEXTS, VOCABULARY)
    assert worker.restarts == 0 and worker.worker_pids() == [first]


async def test_a_vocabulary_the_worker_let_go_is_sent_again(worker: ProcessTextFeatures) -> None:
    vocabularies = [frozenset({f"word{i}", "film"}) for i in range(VOCABULARIES_KEPT + 1)]
    texts = ["word0 film word1 other", "word64 the film"]
    for vocabulary in vocabularies:  # the first one falls out of the worker's memory
        await worker.measure(texts, vocabulary)
    assert await worker.measure(texts, vocabularies[0]) == text_features(texts, vocabularies[0])
    assert await worker.measure(texts, vocabularies[-1]) == text_features(texts, vocabularies[-1])


async def test_a_new_vocabulary_is_never_taken_for_a_collected_one(
    worker: ProcessTextFeatures, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Vocabularies are known by identity.  Every set at one address, as if each took a collected one's place:
    each still gets its own id, so the worker never measures under another one's words."""
    monkeypatch.setattr(text_process, "id", lambda _: 4096, raising=False)
    texts = ["alpha beta gamma", "delta"]
    for round_ in range(4):
        vocabulary = frozenset({"alpha", "beta"} if round_ % 2 else {"delta"})
        assert await worker.measure(texts, vocabulary) == text_features(texts, vocabulary)
        del vocabulary
        gc.collect()


SERVICE = """
import asyncio, time
from claystream_monitor.adapters.text_process import ProcessTextFeatures

async def main():
    features = ProcessTextFeatures()
    await features.measure(["a b c"], frozenset({"a"}))
    print(features.worker_pids()[0], flush=True)
    time.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_the_worker_does_not_outlive_a_service_killed_with_sigkill(tmp_path: Path) -> None:
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker_pid = int(service.stdout.readline())  # type: ignore[union-attr]
        assert _alive(worker_pid)
        service.kill()
        service.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(worker_pid):
            time.sleep(0.1)
        assert not _alive(worker_pid), "an orphaned worker would hold ~50 MB until the machine restarts"
    finally:
        service.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
