"""A bounded least-recently-used mapping, for facts worth remembering across requests."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(MutableMapping[K, V], Generic[K, V]):
    """At most `capacity` entries; with `ttl_s`, an entry older than that is gone."""

    def __init__(self, capacity: int, ttl_s: float | None = None) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def __getitem__(self, key: K) -> V:
        value, stored = self._data[key]
        if self.ttl_s is not None and time.monotonic() - stored > self.ttl_s:
            del self._data[key]
            raise KeyError(key)
        self._data.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = (value, time.monotonic())
        self._data.move_to_end(key)
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()
