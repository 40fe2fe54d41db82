"""Vault's burst limit: a fixed window per Vault whose exhaustion delays responses, and the `/auth` burst that fails."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulators.knobs import read_body

from .errors import ApiError

__all__ = ["BurstWindow", "BurstMiddleware"]

UNLIMITED = 999_999


class BurstWindow:
    """Counts calls in a fixed window that starts with the first call after the previous window ended."""

    def __init__(self, limit: Callable[[], int | None], window_s: Callable[[], float]) -> None:
        self.limit = limit
        self.window_s = window_s
        self._start = 0.0
        self._used = 0

    def hit(self) -> tuple[int, int]:
        """Count one call; return (limit, remaining after it). Remaining is negative once the budget is spent."""
        now = time.monotonic()
        if now - self._start >= self.window_s():
            self._start, self._used = now, 0
        self._used += 1
        limit = self.limit()
        limit = UNLIMITED if limit is None else limit
        return limit, limit - self._used


class BurstMiddleware:
    """Adds the burst headers to every `/api` response and delays calls once the window's budget is used.

    `/auth` also has its own per-username burst (`auth_limit` calls a minute): past half of it responses are
    delayed, past all of it the call fails with `API_LIMIT_EXCEEDED`.
    """

    def __init__(self, app: ASGIApp, window: BurstWindow, delay_ms: Callable[[], float],
                 auth_limit: int | None = None, auth_window_s: float = 60.0) -> None:
        self.app = app
        self.window = window
        self.delay_ms = delay_ms
        self.auth_limit = auth_limit
        self.auth_window_s = auth_window_s
        self._auth: dict[str, BurstWindow] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        limit, remaining = self.window.hit()
        delay = self.delay_ms() if remaining < 0 else 0.0
        if self.auth_limit is not None and scope["path"].rstrip("/").endswith("/auth"):
            body, receive = await _buffer(receive)
            user = _username(body)
            auth = self._auth.setdefault(user, BurstWindow(lambda: self.auth_limit, lambda: self.auth_window_s))
            _, auth_left = auth.hit()
            if auth_left < 0:
                await _auth_exceeded(send, limit, max(remaining, 0))
                return
            if auth_left < self.auth_limit / 2:
                delay = max(delay, self.delay_ms())
        if delay:
            await asyncio.sleep(delay / 1000)
        headers = [(b"x-vaultapi-burstlimit", str(limit).encode()),
                   (b"x-vaultapi-burstlimitremaining", str(max(remaining, 0)).encode())]
        if delay:
            headers.append((b"x-vaultapi-responsedelay", f"{int(delay)}ms".encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    body = await read_body(receive)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _username(body: bytes) -> str:
    try:
        return parse_qs(body.decode()).get("username", [""])[0].lower()
    except UnicodeDecodeError:
        return ""


async def _auth_exceeded(send: Send, limit: int, remaining: int) -> None:
    error = ApiError("API_LIMIT_EXCEEDED", "Authentication burst limit exceeded; try again later",
                     errorType="AUTHENTICATION_FAILED")
    body = json.dumps(error.body()).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-vaultapi-burstlimit", str(limit).encode()),
        (b"x-vaultapi-burstlimitremaining", str(remaining).encode())]})
    await send({"type": "http.response.body", "body": body})
