"""ReadCache: never serves past its age limit, reloads ahead in the background, invalidation wins."""

from __future__ import annotations

import asyncio

import pytest
from claystream_common.read_cache import ReadCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """The stored value and how often it was read; ``gate`` holds a read until released."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def load(self) -> str:
        self.reads += 1
        seen = self.value
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("store down")
        return seen


def cache_over(value: str) -> tuple[Clock, Source, ReadCache[str, str]]:
    """A 2 s cache on a fake clock, and the source it reads, holding ``value``."""
    clock = Clock()
    return clock, Source(value), ReadCache(2.0, clock=clock)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_fresh_entries_are_served_without_reading_again() -> None:
    clock, source, cache = cache_over("v1")
    assert await cache.get("k", source.load) == "v1"
    clock.now += 0.9
    source.value = "v2"
    assert await cache.get("k", source.load) == "v1"
    await settle()
    assert source.reads == 1


async def test_past_half_the_limit_it_answers_from_memory_and_reloads_once_in_the_background() -> None:
    clock, source, cache = cache_over("v1")
    await cache.get("k", source.load)
    clock.now += 1.5
    source.value = "v2"
    source.gate = asyncio.Event()
    assert await cache.get("k", source.load) == "v1"  # not waiting on the reload
    assert await cache.get("k", source.load) == "v1"
    await settle()
    assert source.reads == 2  # one reload, not one per read
    source.gate.set()
    await settle()
    assert await cache.get("k", source.load) == "v2"
    assert source.reads == 2


async def test_an_entry_past_the_limit_is_never_served() -> None:
    clock, source, cache = cache_over("v1")
    await cache.get("k", source.load)
    clock.now += 2.0
    source.value = "v2"
    assert await cache.get("k", source.load) == "v2"


async def test_a_reloaded_entry_is_as_old_as_the_read_that_made_it() -> None:
    clock, source, cache = cache_over("v1")
    source.gate = asyncio.Event()
    pending = asyncio.create_task(cache.get("k", source.load))
    await settle()
    clock.now += 1.9  # the read took 1.9 s
    source.gate.set()
    assert await pending == "v1"
    clock.now += 0.2
    source.value = "v2"
    source.gate = None
    assert await cache.get("k", source.load) == "v2"  # 2.1 s since the read began: too old


async def test_invalidation_beats_a_reload_already_in_flight() -> None:
    clock, source, cache = cache_over("old")
    await cache.get("k", source.load)
    clock.now += 1.5
    source.gate = asyncio.Event()
    await cache.get("k", source.load)  # starts a reload that reads "old"
    await settle()
    source.value = "new"  # a write through this process ...
    cache.invalidate("k")  # ... invalidates
    source.gate.set()
    await settle()
    source.gate = None
    assert await cache.get("k", source.load) == "new"


async def test_a_failed_background_reload_leaves_the_entry_to_age_out_and_the_next_read_raises() -> None:
    clock, source, cache = cache_over("v1")
    await cache.get("k", source.load)
    clock.now += 1.5
    source.fail = True
    assert await cache.get("k", source.load) == "v1"
    await settle()
    clock.now += 0.6
    with pytest.raises(ConnectionError):
        await cache.get("k", source.load)


async def test_clear_drops_every_entry() -> None:
    clock, source, cache = cache_over("v1")
    await cache.get("a", source.load)
    await cache.get("b", source.load)
    cache.clear()
    source.value = "v2"
    assert await cache.get("a", source.load) == "v2"
    assert await cache.get("b", source.load) == "v2"
