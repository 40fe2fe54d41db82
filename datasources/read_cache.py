"""Backend reads kept across requests for a few seconds (queries only), forgotten at any change the gateway sees."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final

from datasources.cache import LruCache
from datasources.events import EventBus
from datasources.instrument import ReadRecalled, emit


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


MISS: Final = _Miss()


class ReadCache:
    """What the backends answered, by what was asked: each answer for at most `ttl_s` seconds, at most `capacity`
    answers (the least recently used go first).

    Any change the gateway makes or learns of (an event on the bus: its own writes, the worker's deliveries, what
    the poller finds, on PostgreSQL those of every process) forgets every answer, and an answer whose read began
    before a change is not kept. What can be up to `ttl_s` old is only what was changed in a backend directly and
    not yet polled. Until it watches a bus, and while that bus cannot tell this process of every change (its
    listening connection lost), nothing is recalled or kept."""

    def __init__(self, ttl_s: float, capacity: int) -> None:
        self._answers: LruCache[Hashable, object] = LruCache(capacity, ttl_s=ttl_s)
        self._live: Callable[[], bool] = lambda: False
        # Bumped by every change: a read records it when it begins and keeps its answer only if it is unchanged.
        self.generation = 0

    async def watch(self, bus: EventBus) -> None:
        """Forget every answer at each change `bus` tells of; in use from now on, while the bus is live."""
        await bus.watch(self.forget_all)
        self._live = lambda: bus.live

    def recall(self, read: str, key: Hashable) -> object:
        """The answer kept for `key` (of the read named `read`, for the metrics), or MISS."""
        value = self._answers.get(key, MISS) if self._live() else MISS
        emit(ReadRecalled(read, value is not MISS))
        return value

    def keep(self, key: Hashable, value: object, generation: int) -> None:
        """Keep an answer read since `generation` (the value of `generation` when the read began)."""
        if generation == self.generation and self._live():
            self._answers[key] = value

    def forget_all(self, *_: object) -> None:
        """Something changed (or may have, unseen): no answer kept so far is given again."""
        self.generation += 1
        self._answers.clear()

    def __len__(self) -> int:
        return len(self._answers)
