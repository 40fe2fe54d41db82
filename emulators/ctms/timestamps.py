"""Vault datetime text: parsing what clients send and writing `2026-11-26T15:23:51.000Z`; the write clock."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_ts", "parse_ts", "Clock"]


def format_ts(ms: int) -> str:
    """Milliseconds since the epoch as Vault writes timestamps: UTC with milliseconds and a `Z`."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_ts(text: str) -> int | None:
    """A Vault timestamp (or an ISO timestamp or date) as milliseconds since the epoch; None when unreadable."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text else datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


class Clock:
    """Hands out write stamps (milliseconds) that strictly increase across all writes of the vault."""

    def __init__(self) -> None:
        self.last = 0

    def tick(self) -> int:
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        self.last = max(now_ms, self.last + 1)
        return self.last

    def observe(self, text: str | None) -> None:
        """Move past a stamp already stored, so new writes sort after it."""
        ms = parse_ts(text) if text else None
        if ms is not None:
            self.last = max(self.last, ms)
