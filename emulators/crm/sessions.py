"""Access tokens of one org: who each belongs to, and when it expires."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

__all__ = ["Session", "Sessions"]


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    expires_at: float


class Sessions:
    """Tokens live in memory for `ttl_s` seconds from their grant; an expired one is forgotten when next seen."""

    def __init__(self, org_id: str, ttl_s: float) -> None:
        self.org_id = org_id
        self.ttl_s = ttl_s
        self._by_id: dict[str, Session] = {}

    def open(self, user_id: str) -> Session:
        session = Session(f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}", user_id, time.monotonic() + self.ttl_s)
        self._by_id[session.id] = session
        return session

    def lookup(self, authorization: str | None) -> Session | None:
        """The live session of an `Authorization: Bearer` (or `OAuth`) header."""
        scheme, _, token = (authorization or "").partition(" ")
        found = self._by_id.get(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
        if found is not None and found.expires_at < time.monotonic():
            del self._by_id[found.id]
            return None
        return found
