"""The text feature worker as the service runs it: a real process, killed, restarted, and holding fewer
vocabularies than it was sent."""

from __future__ import annotations

import os
import signal
import time

import pytest
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
        time.sleep(0.05)
    assert await worker.measure(TEXTS, VOCABULARY) == text_features(TEXTS, VOCABULARY)  # measured in a thread
    assert worker.restarts == 1
    assert await worker.measure(TEXTS, VOCABULARY) == text_features(TEXTS, VOCABULARY)  # a new worker, sent it again
    assert worker.worker_pids() and first not in worker.worker_pids()


async def test_a_vocabulary_the_worker_let_go_is_sent_again(worker: ProcessTextFeatures) -> None:
    vocabularies = [frozenset({f"word{i}", "film"}) for i in range(VOCABULARIES_KEPT + 1)]
    texts = ["word0 film word1 other", "word64 the film"]
    for vocabulary in vocabularies:  # the first one falls out of the worker's memory
        await worker.measure(texts, vocabulary)
    assert await worker.measure(texts, vocabularies[0]) == text_features(texts, vocabularies[0])
    assert await worker.measure(texts, vocabularies[-1]) == text_features(texts, vocabularies[-1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
