"""ReadCache: never serves past its age limit, reloads ahead in the background, invalidation wins."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

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
    _, source, cache = cache_over("v1")
    await cache.get("a", source.load)
    await cache.get("b", source.load)
    cache.clear()
    source.value = "v2"
    assert await cache.get("a", source.load) == "v2"
    assert await cache.get("b", source.load) == "v2"


class Table:
    """A keyed source read in batches (``load_many``), recording each batch's keys."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.batches: list[list[str]] = []
        self.gate: asyncio.Event | None = None

    async def load_many(self, keys: Sequence[str]) -> dict[str, str]:
        self.batches.append(sorted(keys))
        seen = {k: self.values[k] for k in keys if k in self.values}
        if self.gate is not None:
            await self.gate.wait()
        return seen

    def loader(self, key: str) -> Callable[[], Awaitable[str]]:
        async def load() -> str:
            return self.values[key]
        return load


async def test_with_load_many_one_sweep_reloads_every_entry_past_half_its_refresh_age() -> None:
    clock, table = Clock(), Table({"a": "a1", "b": "b1", "c": "c1", "gone": "g1"})
    cache: ReadCache[str, str] = ReadCache(2.0, clock=clock, load_many=table.load_many)
    for key in ("a", "b", "gone"):
        await cache.get(key, table.loader(key))
    clock.now += 0.8
    await cache.get("c", table.loader("c"))  # 0.2 s old when "a" comes due: not yet halfway to its refresh
    clock.now += 0.4
    table.values.update(a="a2", b="b2", c="c2")
    del table.values["gone"]  # deleted meanwhile: left out of the batch's answer
    table.gate = asyncio.Event()
    assert [await cache.get(k, table.loader(k)) for k in ("a", "b", "a")] == ["a1", "b1", "a1"]  # from memory
    await settle()
    assert table.batches == [["a", "b", "gone"]], "one batch for every due entry, however many reads came due"
    table.gate.set()
    await settle()
    table.gate = None
    assert await cache.get("a", table.loader("a")) == "a2"
    assert await cache.get("b", table.loader("b")) == "b2"
    assert await cache.get("c", table.loader("c")) == "c1", "not due: kept"
    table.values["gone"] = "g2"
    assert await cache.get("gone", table.loader("gone")) == "g2", "dropped, so read afresh"
    assert table.batches == [["a", "b", "gone"]]


async def test_invalidation_beats_a_sweep_already_in_flight() -> None:
    clock, table = Clock(), Table({"a": "old"})
    cache: ReadCache[str, str] = ReadCache(2.0, clock=clock, load_many=table.load_many)
    await cache.get("a", table.loader("a"))
    clock.now += 1.5
    table.gate = asyncio.Event()
    await cache.get("a", table.loader("a"))  # starts a sweep that reads "old"
    await settle()
    table.values["a"] = "new"
    cache.invalidate("a")
    table.gate.set()
    await settle()
    assert await cache.get("a", table.loader("a")) == "new"
