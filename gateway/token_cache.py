"""A bounded cache of verified bearer tokens, so that a client's repeated token is not verified on every request."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from domain.permissions import Actor


@dataclass(frozen=True, slots=True)
class Verified:
    """What verifying a token proved: its actor and expiry, and the key (by id and object) whose signature held."""

    actor: Actor
    expires: float  # the token's exp, seconds since the epoch
    kid: str
    key: object
    until: float  # the entry is used before this time only: min(exp, when it was verified + the TTL)


class VerifiedTokens:
    """At most `max_entries` verified tokens by the sha256 of their text, each for at most `ttl_s` and never past
    its token's `exp`; the least recently used go first. `ttl_s` 0 keeps nothing. Only successes are kept: a refused
    token is verified again each time it comes."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[bytes, Verified] = OrderedDict()

    def get(self, token: str) -> Verified | None:
        if self.ttl_s <= 0:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if self.clock() >= entry.until:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return entry

    def put(self, token: str, actor: Actor, expires: float, kid: str, key: object) -> None:
        if self.ttl_s <= 0 or self.max_entries <= 0:
            return
        until = min(expires, self.clock() + self.ttl_s)
        digest = hashlib.sha256(token.encode()).digest()
        self._entries[digest] = Verified(actor, expires, kid, key, until)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
