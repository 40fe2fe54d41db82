"""Salesforce date and datetime text: parsing the forms clients send and writing `2026-11-26T15:23:51.000+0000`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = ["format_ts", "parse_ts", "parse_date", "Clock"]

_TS = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def format_ts(value: datetime) -> str:
    """UTC text with milliseconds and a `+0000` offset, as the REST API writes datetimes."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_ts(text: str) -> datetime | None:
    """A timezone-aware datetime from ISO-8601 text with `Z`, `+0000` or `+00:00`; None when unreadable."""
    m = _TS.match(text.strip())
    if m is None:
        return None
    day, hh, mm, ss, frac, tz = m.groups()
    try:
        d = date.fromisoformat(day)
        micro = int((frac or "0")[:6].ljust(6, "0"))
        result = datetime(d.year, d.month, d.day, int(hh), int(mm), int(ss or 0), micro, tzinfo=UTC)
    except ValueError:
        return None
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        result -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return result


def parse_date(text: str) -> date | None:
    """A date from `YYYY-MM-DD`; None when unreadable."""
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class Clock:
    """Hands out SystemModstamp values that strictly increase across all writes of an org."""

    def __init__(self, last: datetime | None = None) -> None:
        self.last = last or datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def tick(self) -> datetime:
        stamp = self.now()
        if stamp <= self.last:
            stamp = self.last + timedelta(milliseconds=1)
        self.last = stamp
        return stamp

    def observe(self, text: str | None) -> None:
        """Move past a stamp already stored, so new writes sort after it."""
        stamp = parse_ts(text) if text else None
        if stamp is not None and stamp > self.last:
            self.last = stamp
