"""The cache of verified tokens: bounded, never past a token's exp or the TTL, and off at TTL 0."""

from __future__ import annotations

from domain.permissions import Actor
from gateway.token_cache import VerifiedTokens

ACTOR = Actor("sub-1", "Clara", "Oswald", "clara.oswald@ctms.example.com", frozenset(), ("clinical_lead",))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_token_is_found_until_its_exp() -> None:
    clock = Clock()
    cache = VerifiedTokens(60, 10, clock)
    cache.put("token", ACTOR, clock.now + 5, "kid", "key")
    hit = cache.get("token")
    assert hit is not None and hit.actor is ACTOR and hit.expires == clock.now + 5
    clock.now += 5
    assert cache.get("token") is None and len(cache) == 0


def test_an_entry_lives_at_most_the_ttl() -> None:
    clock = Clock()
    cache = VerifiedTokens(60, 10, clock)
    cache.put("token", ACTOR, clock.now + 3600, "kid", "key")
    clock.now += 59
    assert cache.get("token") is not None
    clock.now += 1
    assert cache.get("token") is None


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    clock = Clock()
    cache = VerifiedTokens(60, 3, clock)
    for i in range(3):
        cache.put(f"t{i}", ACTOR, clock.now + 600, "kid", "key")
    assert cache.get("t0") is not None  # t1 is now the least recently used
    for i in range(3, 100):
        cache.put(f"t{i}", ACTOR, clock.now + 600, "kid", "key")
        assert len(cache) <= 3
    assert cache.get("t1") is None and cache.get("t99") is not None


def test_ttl_zero_keeps_nothing() -> None:
    cache = VerifiedTokens(0, 10, Clock())
    cache.put("token", ACTOR, 2e9, "kid", "key")
    assert cache.get("token") is None and len(cache) == 0


def test_tokens_are_kept_by_digest_not_by_their_text() -> None:
    cache = VerifiedTokens(60, 10, Clock())
    cache.put("secret.token.text", ACTOR, 2e9, "kid", "key")
    assert all(isinstance(k, bytes) and len(k) == 32 for k in cache._entries)
    assert cache.get("secret.token.texT") is None
