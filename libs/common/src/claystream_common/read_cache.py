"""An in-process read-through cache with a hard age limit, refreshed ahead of expiry.

Hot reads (the user behind a session, a dataset by name) are served from memory for at most
``max_age_s`` seconds, so a change made through another process is seen within that time.  Once an
entry is older than ``refresh_after_s`` (half the limit unless said otherwise), the next read still
answers from memory and one background task reloads it.  An active user's requests then never wait
on MongoDB for it; an entry past ``max_age_s`` is never served: that read loads it itself.

Why: every MongoDB round trip on the submit path costs ~1.5 ms on the embedded store once the
process has gone idle between requests (docs/PERFORMANCE.md, section 5), and with a 2 s limit a
paced annotator hit the reload on one request in three.

``invalidate``/``clear`` (writes through this process) win over a reload already in flight: a
reload stores its value only if nothing was invalidated since it started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)


class ReadCache(Generic[K, V]):
    def __init__(
        self,
        max_age_s: float,
        *,
        refresh_after_s: float | None = None,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age_s = max_age_s
        self._refresh_after_s = max_age_s / 2 if refresh_after_s is None else refresh_after_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._reloading: dict[K, asyncio.Task[None]] = {}
        self._epoch = 0  # bumped by every invalidation: a load that started before it is not stored

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._max_age_s:
            if now - hit[0] >= self._refresh_after_s and key not in self._reloading:
                self._reloading[key] = asyncio.create_task(self._reload(key, load))
            return hit[1]
        return await self._load(key, load)

    def invalidate(self, key: K) -> None:
        self._epoch += 1
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._epoch += 1
        self._entries.clear()

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        started, epoch = self._clock(), self._epoch
        value = await load()
        if epoch == self._epoch:  # stamped with the time the read began: never older than it claims
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (started, value)
        return value

    async def _reload(self, key: K, load: Callable[[], Awaitable[V]]) -> None:
        try:
            await self._load(key, load)
        except Exception as error:  # noqa: BLE001 - the entry ages out; the next read past the limit loads (and raises) itself
            log.debug("background reload of %r failed: %r", key, error)
        finally:
            self._reloading.pop(key, None)
