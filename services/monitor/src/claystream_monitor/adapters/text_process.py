"""Text features (token counts, out-of-vocabulary shares) measured in a worker process.

Tokenizing every logged prediction is a quarter of the monitor's CPU and, being Python, holds the
interpreter lock: in a thread it only takes turns with the consumer loop.  One worker process measures
them on the other core while the loop stores the batch, writes the join index and handles other models
(docs/PERFORMANCE.md).  The worker keeps the vocabularies it was sent, by an id the service gives each
one, so a reference's 50,000 words cross the pipe once, not with every batch.  If the worker dies, the
batch in hand is measured in a thread and the next one starts a new worker: same numbers either way
(``text_features`` is a pure function).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from claystream_monitor.drift.text import text_features

log = logging.getLogger(__name__)

VOCABULARIES_KEPT = 64  # in the worker: one per live reference (see MonitorEngine's max_live)

_vocabularies: OrderedDict[str, frozenset[str]] = OrderedDict()  # the worker process's own, by vocabulary id


def measure_in_worker(vocabulary_id: str, vocabulary: frozenset[str] | None, texts: list[str]) -> list[tuple[int, float]] | None:
    """Runs in the worker: remembers ``vocabulary`` when sent; None when it holds no vocabulary of that id."""
    if vocabulary is not None:
        _vocabularies[vocabulary_id] = vocabulary
        while len(_vocabularies) > VOCABULARIES_KEPT:
            _vocabularies.popitem(last=False)
    known = _vocabularies.get(vocabulary_id)
    if known is None:
        return None
    _vocabularies.move_to_end(vocabulary_id)
    return text_features(texts, known)


def exit_with(service_pid: int) -> None:
    """The worker's initializer: it exits when the service process is gone, even killed with SIGKILL (its call
    queue would never close: the worker holds both ends), and with it the fork server.  It ignores SIGTERM and
    SIGINT: a stop signalled to the whole process group (Ctrl-C, the devstack) would otherwise end it before the
    service's graceful stop had measured its last batch; the service's exit ends it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        try:
            handle = os.pidfd_open(service_pid)
        except OSError:  # gone already, or no pidfd (Linux < 5.3): poll
            while True:
                try:
                    os.kill(service_pid, 0)
                except ProcessLookupError:
                    os._exit(0)
                except PermissionError:
                    pass
                time.sleep(1.0)
        select.select([handle], [], [])  # readable once the process has exited
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-service", daemon=True).start()


class ProcessTextFeatures:
    """The :class:`~claystream_monitor.services.ports.TextFeatures` port on one worker process (started by
    the first batch that needs it, through a fork server: the worker does not inherit the service's
    threads and sockets).  As with any multiprocessing start method but fork, the entry point must guard its
    main code (``if __name__ == "__main__"``), as uvicorn's console script and ``python -m uvicorn`` do."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._ids: dict[int, tuple[weakref.ref[frozenset[str]], str]] = {}  # id(vocabulary) -> (it, its id here)
        self._sent: set[str] = set()  # vocabulary ids the current worker was sent
        self.restarts = 0

    async def measure(self, texts: list[str], vocabulary: frozenset[str]) -> list[tuple[int, float]]:
        if not texts:
            return []
        vocabulary_id = self._vocabulary_id(vocabulary)
        pool = self._worker()
        loop = asyncio.get_running_loop()
        try:
            sent = vocabulary_id in self._sent
            self._sent.add(vocabulary_id)  # one worker takes its calls in order: the ones after this find it there
            features = await loop.run_in_executor(pool, measure_in_worker, vocabulary_id, None if sent else vocabulary, texts)
            if features is None:  # evicted there (more live references than it keeps): send it again
                features = await loop.run_in_executor(pool, measure_in_worker, vocabulary_id, vocabulary, texts)
            assert features is not None
            return features
        except (BrokenProcessPool, OSError) as error:  # it died, or could not start (no fork server socket)
            log.warning("text feature worker lost (%r): measuring these texts in a thread; the next batch starts a new one",
                        error)
            self._discard(pool)
            return await asyncio.to_thread(text_features, texts, vocabulary)

    def _vocabulary_id(self, vocabulary: frozenset[str]) -> str:
        """By identity: a dictionary keyed by the set itself compares 50,000 words on every lookup (set equality
        does not stop at identity), which was 4 % of the consumer loop's time."""
        known = self._ids.get(id(vocabulary))
        if known is None or known[0]() is not vocabulary:  # new, or another set at a recycled address
            for address in [address for address, (ref, _) in self._ids.items() if ref() is None]:
                del self._ids[address]
            known = self._ids[id(vocabulary)] = (weakref.ref(vocabulary), uuid.uuid4().hex)
        return known[1]

    def _worker(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"),
                                             initializer=exit_with, initargs=(os.getpid(),))
            self._sent = set()
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:  # not one a concurrent batch already replaced
            self._pool = None
            self.restarts += 1
        pool.shutdown(wait=False, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        pool = self._pool
        processes = getattr(pool, "_processes", None) or {}  # concurrent.futures keeps no public list
        return [process.pid for process in processes.values() if process.pid is not None]

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
