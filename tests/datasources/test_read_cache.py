"""The read cache: what it recalls, for how long, and what makes it forget (datasources/read_cache.py), through the
loaders that use it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from datasources.errors import SourceUnavailable
from datasources.events import ActivityEvent, Change, InProcessBus
from datasources.loaders import Loaders
from datasources.read_cache import MISS, ReadCache
from domain import Person
from tests.resolvers.fakes import FakeClinical


class _Counting(FakeClinical):
    """The CTMS, counting its people reads; with `hold` set, a read waits for it to be released."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.hold: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def people(self, ids: Sequence[str], identifiers: Sequence[str]) -> list[Person]:
        self.reads += 1
        self.reading.set()
        if self.hold is not None:
            await self.hold.wait()
        return await super().people(ids, identifiers)


async def _watching(ttl_s: float = 60.0, capacity: int = 100) -> tuple[ReadCache, InProcessBus]:
    cache, bus = ReadCache(ttl_s, capacity), InProcessBus()
    await cache.watch(bus)
    return cache, bus


def _loaders(clinical: FakeClinical, cache: ReadCache | None) -> Loaders:
    """One request's loaders, as a query's (which use the cache)."""
    loaders = Loaders(clinical, [])
    loaders.reads = cache
    return loaders


async def _name(clinical: FakeClinical, cache: ReadCache | None, person_id: str) -> str | None:
    person = await _loaders(clinical, cache).person.load(person_id)
    return None if person is None else person.first_name


def test_an_answer_is_recalled_by_later_requests_until_it_expires() -> None:
    async def run() -> None:
        clinical = _Counting()
        pid = clinical.add_person("Amy", "Pond")
        cache, _ = await _watching(ttl_s=0.2)
        assert [await _name(clinical, cache, pid) for _ in range(3)] == ["Amy"] * 3
        assert clinical.reads == 1
        clinical.persons[pid] = Person(pid, "Amelia", "Pond", None, {})  # changed in the CTMS directly
        assert await _name(clinical, cache, pid) == "Amy"
        await asyncio.sleep(0.25)
        assert await _name(clinical, cache, pid) == "Amelia" and clinical.reads == 2
    asyncio.run(run())


def test_any_change_on_the_bus_forgets_every_answer() -> None:
    async def run() -> None:
        clinical = _Counting()
        pid = clinical.add_person("Amy", "Pond")
        cache, bus = await _watching()
        await _name(clinical, cache, pid)
        clinical.persons[pid] = Person(pid, "Amelia", "Pond", None, {})
        await bus.publish([ActivityEvent(Change.CREATED, "clinical", "0AC1", "someone else")])
        assert len(cache) == 0
        assert await _name(clinical, cache, pid) == "Amelia"
    asyncio.run(run())


def test_a_read_begun_before_a_change_is_not_kept() -> None:
    async def run() -> None:
        clinical = _Counting()
        pid = clinical.add_person("Amy", "Pond")
        cache, bus = await _watching()
        clinical.hold = asyncio.Event()
        reading = asyncio.ensure_future(_name(clinical, cache, pid))
        await clinical.reading.wait()
        await bus.publish([ActivityEvent(Change.UPDATED, "clinical", "0AC1", pid)])  # while the read is out
        clinical.hold.set()
        assert await reading == "Amy"
        assert cache.recall("person", ("person", (), pid)) is MISS and len(cache) == 0
        clinical.hold = None
        await _name(clinical, cache, pid)
        assert clinical.reads == 2
    asyncio.run(run())


def test_failures_are_not_kept_and_nothing_is_before_it_watches_a_bus() -> None:
    async def run() -> None:
        clinical = _Counting()
        pid = clinical.add_person("Amy", "Pond")
        unwatched = ReadCache(60.0, 100)
        await _name(clinical, unwatched, pid)
        await _name(clinical, unwatched, pid)
        assert clinical.reads == 2 and len(unwatched) == 0
        cache, _ = await _watching()
        clinical.fail("people", SourceUnavailable, times=1)
        with pytest.raises(SourceUnavailable):
            await _name(clinical, cache, pid)
        assert await _name(clinical, cache, pid) == "Amy" and await _name(clinical, cache, pid) == "Amy"
        assert len(cache) == 1
    asyncio.run(run())


def test_at_most_capacity_answers_are_kept() -> None:
    async def run() -> None:
        clinical = _Counting()
        ids = [clinical.add_person(f"P{n}", "Smith") for n in range(5)]
        cache, _ = await _watching(capacity=3)
        for pid in ids:
            await _name(clinical, cache, pid)
        assert len(cache) == 3
        await _name(clinical, cache, ids[0])  # the oldest went first
        assert clinical.reads == 6
    asyncio.run(run())


def test_a_loader_without_the_cache_reads_every_time() -> None:
    async def run() -> None:
        clinical = _Counting()
        pid = clinical.add_person("Amy", "Pond")
        cache, _ = await _watching()
        await _name(clinical, cache, pid)
        await _name(clinical, None, pid)  # a mutation's loaders
        assert clinical.reads == 2
    asyncio.run(run())
