"""The per-request loader: keys of one tick in one batch call, and a whole batch handed over at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from datasources.dataloader import DataLoader


class Batches:
    """A batch function that records its calls; "bad" fails its key, "short" makes the batch one value short."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, keys: Sequence[str]) -> list[str | BaseException]:
        self.calls.append(list(keys))
        values: list[str | BaseException] = [ValueError(k) if k == "bad" else k.upper() for k in keys]
        return values[:-1] if "short" in keys else values


def test_keys_of_one_tick_are_one_batch() -> None:
    batches = Batches()

    async def main() -> None:
        loader = DataLoader(batches)
        assert await asyncio.gather(loader.load("a"), loader.load("b"), loader.load("a")) == ["A", "B", "A"]

    asyncio.run(main())
    assert batches.calls == [["a", "b"]]


def test_a_whole_batch_is_one_call_at_once_and_later_loads_reuse_it() -> None:
    batches = Batches()

    async def main() -> None:
        loader = DataLoader(batches)
        got = asyncio.ensure_future(loader.load_batch(["a", "b"]))
        await asyncio.sleep(0)  # one step: the call is made without waiting for other keys
        assert batches.calls == [["a", "b"]]
        assert await got == ["A", "B"]
        assert await loader.load("b") == "B"
        assert await loader.load_many(["a", "b"]) == ["A", "B"]

    asyncio.run(main())
    assert batches.calls == [["a", "b"]]


def test_a_batch_with_keys_already_loading_joins_them() -> None:
    batches = Batches()

    async def main() -> None:
        loader = DataLoader(batches)
        first = loader.load("a")
        assert await loader.load_batch(["a", "b"]) == ["A", "B"]
        assert await first == "A"

    asyncio.run(main())
    assert batches.calls == [["a", "b"]]  # one call for both, not "a" twice


def test_a_failed_key_fails_the_batch_as_it_fails_load_many() -> None:
    batches = Batches()

    async def main() -> None:
        loader = DataLoader(batches)
        with pytest.raises(ValueError, match="bad"):
            await loader.load_batch(["a", "bad"])
        assert await loader.load("a") == "A"  # the keys before it are kept
        with pytest.raises(RuntimeError, match="1 values for 2 keys"):
            await loader.load_batch(["c", "short"])
        assert await loader.load_batch([]) == []

    asyncio.run(main())
    assert batches.calls == [["a", "bad"], ["c", "short"]]


def test_a_loader_and_its_values_are_freed_without_a_collection() -> None:
    """Nothing a load schedules refers back to the loader in a cycle: the request's values go when it lets go."""
    import gc
    import weakref

    class Value:
        pass

    async def batch(keys: Sequence[str]) -> list[Value]:
        return [Value() for _ in keys]

    async def main() -> tuple[weakref.ref[DataLoader[str, Value]], weakref.ref[Value]]:
        loader = DataLoader(batch)
        value = await loader.load("a")
        return weakref.ref(loader), weakref.ref(value)

    gc.collect()
    gc.disable()
    try:
        loader, value = asyncio.run(main())
        assert loader() is None and value() is None
    finally:
        gc.enable()


def test_waiting_callbacks_run_in_their_iteration_on_one_shared_chain() -> None:
    from datasources import dataloader

    async def run() -> tuple[list[tuple[str, int]], list[object], bool]:
        loop = asyncio.get_running_loop()
        ran: list[tuple[str, int]] = []
        iteration = 0

        def count() -> None:
            nonlocal iteration
            iteration += 1
            if iteration < 8:
                loop.call_soon(count)

        def broken() -> None:
            raise RuntimeError("a callback that fails")

        reported: list[object] = []
        loop.set_exception_handler(lambda _, context: reported.append(context["exception"]))
        loop.call_soon(count)
        dataloader.call_after(4, lambda: ran.append(("a", iteration)))
        dataloader.call_after(2, broken)
        dataloader.call_after(2, lambda: ran.append(("b", iteration)))
        await asyncio.sleep(0)
        dataloader.call_after(1, lambda: ran.append(("c", iteration)))  # joins the chain under way
        for _ in range(10):
            await asyncio.sleep(0)
        return ran, reported, loop in dataloader._TICKS
    ran, reported, still_waiting = asyncio.run(run())
    # Each callback runs in the iteration it asked for, after the counter's own callback of that iteration; the
    # failing one is reported and the one beside it still runs; nothing stays behind.
    assert ran == [("b", 2), ("c", 2), ("a", 4)]
    assert [str(e) for e in reported] == ["a callback that fails"] and not still_waiting
