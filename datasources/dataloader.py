"""A minimal asyncio DataLoader: keys asked for in the same tick are loaded with one batch call."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
# Loop iterations between a batch's first key and the start of its dispatch task (whose first step runs one later).
WAIT_ITERATIONS = 4


def call_after(iterations: int, callback: Callable[[], object], loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Run `callback` in the `iterations`-th loop iteration from now (1: the next). The callbacks waiting on a loop
    share one chain of plain callbacks, one per iteration while any waits (a request's loaders and query batches
    start waiting in the same few iterations): a chain each, or a task sleeping through them, would cost several
    times as much. `loop`: the running loop, when the caller has it."""
    loop = loop or asyncio.get_running_loop()
    ticks = _TICKS.get(loop)
    if ticks is None:
        ticks = _TICKS[loop] = []
        loop.call_soon(_tick, loop, ticks)
    ticks.append([iterations, callback])


# Per loop (never kept alive here), its callbacks waiting, as [iterations left, callback]; a loop's entry lasts only
# while some wait.
_TICKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[list[Any]]] = weakref.WeakKeyDictionary()


def _tick(loop: asyncio.AbstractEventLoop, ticks: list[list[Any]]) -> None:
    # A module function, not a closure calling itself: that would be a reference cycle holding the callbacks (and
    # the loaders with their request's values) until the garbage collector's next pass.
    due = []
    for entry in ticks:
        entry[0] -= 1
        if entry[0] <= 0:
            due.append(entry[1])
    if due:
        ticks[:] = [entry for entry in ticks if entry[0] > 0]
    if ticks:
        loop.call_soon(_tick, loop, ticks)
    else:
        _TICKS.pop(loop, None)
    for callback in due:
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - reported as the loop reports a callback's: the others still run
            loop.call_exception_handler({"message": f"Exception in callback {callback!r}", "exception": exc})


class DataLoader(Generic[K, V]):
    """Create one per request: its cache is the request's."""

    def __init__(self, batch: Callable[[Sequence[K]], Awaitable[Sequence[V | BaseException]]]) -> None:
        self._batch = batch
        self._cache: dict[K, asyncio.Future[V]] = {}
        self._queue: list[K] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the request's, once known (each look-up is a system call)

    def load(self, key: K) -> asyncio.Future[V]:
        future = self._cache.get(key)
        if future is None:
            loop = self._running_loop()
            future = loop.create_future()
            self._cache[key] = future
            if not self._queue:
                # Resolvers of the same level enqueue first.
                call_after(WAIT_ITERATIONS, self._start_dispatch, loop)
            self._queue.append(key)
        return future

    async def load_many(self, keys: Sequence[K]) -> list[V]:
        return list(await asyncio.gather(*(self.load(k) for k in keys)))

    async def load_batch(self, keys: Sequence[K]) -> list[V]:
        """The keys' values by one batch call made at once, for a caller that holds a whole batch already: no wait
        for other keys, no task, no future per key. When this loader already has any of them (loaded, loading or
        primed), they are loaded as `load_many` would; the values are kept for later loads either way."""
        if not keys:
            return []
        if any(k in self._cache for k in keys):
            return await self.load_many(keys)
        values = await self.run_batch(keys)
        if len(values) != len(keys):
            raise RuntimeError(f"batch returned {len(values)} values for {len(keys)} keys")
        for key, value in zip(keys, values, strict=True):
            if isinstance(value, BaseException):
                raise value  # what load_many would raise: the first key's failure
            self.prime(key, value)
        return list(values)  # type: ignore[arg-type]

    def prime(self, key: K, value: V) -> None:
        if key not in self._cache:
            future = self._running_loop().create_future()
            future.set_result(value)
            self._cache[key] = future

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def run_batch(self, keys: Sequence[K]) -> Awaitable[Sequence[V | BaseException]]:
        """The batch call for these keys (a subclass may wrap it)."""
        return self._batch(keys)

    def _start_dispatch(self) -> None:
        asyncio.ensure_future(self._dispatch())

    async def _dispatch(self) -> None:
        keys, self._queue = self._queue, []
        try:
            values = await self.run_batch(keys)
            if len(values) != len(keys):
                raise RuntimeError(f"batch returned {len(values)} values for {len(keys)} keys")
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear of it
            for key in keys:
                fut = self._cache.pop(key)
                if not fut.done():
                    fut.set_exception(exc)
                    fut.exception()  # mark as retrieved: not every waiter may still be listening
            return
        for key, value in zip(keys, values, strict=True):
            fut = self._cache[key]
            if fut.done():
                continue
            if isinstance(value, BaseException):
                fut.set_exception(value)
                fut.exception()
            else:
                fut.set_result(value)
