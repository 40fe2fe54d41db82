"""The bounded cache behind identifier values and upserted study references."""

from __future__ import annotations

import time

from datasources.cache import LruCache


def test_least_recently_used_entries_go_first() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache["a"], cache["b"] = 1, 2
    assert cache["a"] == 1  # a is now the most recent
    cache["c"] = 3
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2


def test_entries_expire_after_their_time_to_live() -> None:
    cache: LruCache[str, int] = LruCache(10, ttl_s=0.05)
    cache["a"] = 1
    assert cache.get("a") == 1
    time.sleep(0.08)
    assert "a" not in cache and cache.get("a") is None
