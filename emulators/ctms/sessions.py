"""Vault API sessions of the CTMS stand-in: ids, their users, and the idle timeout."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

__all__ = ["Session", "Sessions"]


@dataclass
class Session:
    id: str
    user_id: str
    username: str
    last_used: float


class Sessions:
    """Sessions expire after `idle_s` seconds without a call; every successful lookup refreshes them."""

    def __init__(self, idle_s: float = 1800.0) -> None:
        self.idle_s = idle_s
        self._by_id: dict[str, Session] = {}

    def open(self, user_id: str, username: str) -> Session:
        session = Session(secrets.token_hex(32).upper(), user_id, username, time.monotonic())
        self._by_id[session.id] = session
        return session

    def lookup(self, authorization: str | None) -> Session | None:
        """The live session named by an `Authorization` header (`{sessionId}` or `Bearer {sessionId}`)."""
        if not authorization:
            return None
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        session = self._by_id.get(token)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_used > self.idle_s:
            del self._by_id[token]
            return None
        session.last_used = now
        return session

    def close(self, session_id: str) -> bool:
        return self._by_id.pop(session_id, None) is not None
