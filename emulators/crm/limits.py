"""API usage: the daily request allowance, the rate knob, and the `Sforce-Limit-Info` header on every reply."""

from __future__ import annotations

import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulators.knobs import Knobs

from .errors import ApiError

__all__ = ["ApiUsage", "LimitHeaderMiddleware"]

DAY_S = 86400.0


class ApiUsage:
    """Counts signed-in API calls; over the daily limit or the knob's rate, calls fail with 403."""

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
        self._admit_rate(now)
        self.used += 1

    def _admit_rate(self, now: float) -> None:
        """The knob's rate limit: at most `rate_limit` calls in any `rate_window_s` seconds."""
        limit = self.knobs.rate_limit
        if limit is None:
            self.recent.clear()
            return
        while self.recent and self.recent[0] <= now - self.knobs.rate_window_s:
            self.recent.popleft()
        if len(self.recent) >= limit:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.recent.append(now)

    def header(self) -> str:
        return f"api-usage={self.used}/{self.daily_limit}"


class LimitHeaderMiddleware:
    """Adds `Sforce-Limit-Info: api-usage=N/M` to every response."""

    def __init__(self, app: ASGIApp, usage: ApiUsage) -> None:
        self.app = app
        self.usage = usage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"sforce-limit-info", self.usage.header().encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)
