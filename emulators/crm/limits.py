"""API usage: the daily request allowance, the rate knob, and the `Sforce-Limit-Info` header."""

from __future__ import annotations

import time
from collections import deque

from ..knobs import Knobs
from .errors import ApiError

__all__ = ["ApiUsage"]

DAY_S = 86400.0


class ApiUsage:
    """Counts authenticated API calls; over the daily limit or the knob's rate, calls fail with 403."""

    def __init__(self, knobs: Knobs, daily_limit: int) -> None:
        self.knobs = knobs
        self.daily_limit = daily_limit
        self.used = 0
        self.day_start = time.monotonic()
        self.recent: deque[float] = deque()

    def admit(self) -> None:
        now = time.monotonic()
        if now - self.day_start >= DAY_S:
            self.used, self.day_start = 0, now
        if self.used >= self.daily_limit:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        limit = self.knobs.rate_limit
        if limit is None:
            self.recent.clear()
        else:
            window = self.knobs.rate_window_s
            while self.recent and self.recent[0] <= now - window:
                self.recent.popleft()
            if len(self.recent) >= limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.recent.append(now)
        self.used += 1

    def header(self) -> str:
        return f"api-usage={self.used}/{self.daily_limit}"
