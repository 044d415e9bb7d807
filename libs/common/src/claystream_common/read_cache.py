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

With ``load_many`` the background reloads are batched: the first entry due starts one sweep that
reloads, in one call, every entry past half its refresh age.  Twenty annotators' users then cost one
MongoDB read about once a second instead of one each (a background read still queues in front of the
requests' own in the embedded store, which serves one command at a time).  Keys that ``load_many``
leaves out of its answer are dropped (the next read loads them itself).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
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
        load_many: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]] | None = None,
    ) -> None:
        self._max_age_s = max_age_s
        self._refresh_after_s = max_age_s / 2 if refresh_after_s is None else refresh_after_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._reloading: dict[K, asyncio.Task[None]] = {}
        self._epoch = 0  # bumped by every invalidation: a load that started before it is not stored
        self._load_many = load_many
        self._sweep: asyncio.Task[None] | None = None

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._max_age_s:
            if now - hit[0] >= self._refresh_after_s:
                self._refresh_ahead(key, load)
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

    def _refresh_ahead(self, key: K, load: Callable[[], Awaitable[V]]) -> None:
        if self._load_many is None:
            if key not in self._reloading:
                self._reloading[key] = asyncio.create_task(self._reload(key, load))
        elif self._sweep is None:
            self._sweep = asyncio.create_task(self._reload_due())

    async def _reload_due(self) -> None:
        """One ``load_many`` of every entry past half its refresh age."""
        assert self._load_many is not None
        try:
            started, epoch = self._clock(), self._epoch
            due = [key for key, (stamp, _) in self._entries.items() if started - stamp >= self._refresh_after_s / 2]
            values = await self._load_many(due)
            if epoch == self._epoch:
                for key in due:
                    if key in values:
                        self._entries[key] = (started, values[key])
                    else:
                        self._entries.pop(key, None)
        except Exception as error:  # noqa: BLE001 - entries age out; reads past the limit load (and raise) themselves
            log.debug("background reload sweep failed: %r", error)
        finally:
            self._sweep = None

    async def _reload(self, key: K, load: Callable[[], Awaitable[V]]) -> None:
        try:
            await self._load(key, load)
        except Exception as error:  # noqa: BLE001 - the entry ages out; the next read past the limit loads (and raises) itself
            log.debug("background reload of %r failed: %r", key, error)
        finally:
            self._reloading.pop(key, None)
