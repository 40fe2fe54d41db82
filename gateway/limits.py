"""Bounds on what one request may take: its body, its running time, and its user's rate of requests."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Generator
from contextvars import ContextVar
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import record_rate_limited
from gateway.refusals import refuse

T = TypeVar("T")


class BodyLimit:
    """Answer 413 to a body larger than `max_bytes`, by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await refuse(scope, send, 413, f"request body larger than {self.max_bytes} bytes", "PAYLOAD_TOO_LARGE")


class _TooLarge(Exception):
    pass


# -- the deadline ------------------------------------------------------------------------------------------------

# The tasks started while a request runs (data loader batches, gathered source calls): cancelled with it.
_REQUEST_TASKS: ContextVar[set[asyncio.Task[Any]] | None] = ContextVar("ccgw_request_tasks", default=None)


class DeadlineExceeded(Exception):
    pass


async def within_deadline(work: Coroutine[Any, Any, T], timeout_s: float) -> T:
    """Await `work`; past `timeout_s` (0: no deadline) cancel it and every task it started, then raise
    DeadlineExceeded.

    Tasks it started that outlive it when it ends in time (a delivery finishing in the background) are left alone.
    Past the deadline a mutation's inline delivery is cancelled too: its mirrors stay leased until the lease runs
    out, then the worker delivers them."""
    _TaskTracker.install(asyncio.get_running_loop())
    started: set[asyncio.Task[Any]] = set()
    token = _REQUEST_TASKS.set(started)
    try:
        async with asyncio.timeout(timeout_s if timeout_s > 0 else None) as deadline:
            return await work
    except TimeoutError:
        if not deadline.expired():
            raise
        pending = [t for t in started if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        raise DeadlineExceeded(timeout_s) from None
    finally:
        _REQUEST_TASKS.reset(token)


class _TaskTracker:
    """The event loop's task factory, wrapped: a task created within a request is recorded in its set."""

    def __init__(self, previous: Callable[..., asyncio.Future[Any]] | None) -> None:
        self.previous = previous

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop) -> None:
        current = loop.get_task_factory()
        if not isinstance(current, cls):
            loop.set_task_factory(cls(current))  # type: ignore[arg-type]

    def __call__(self, loop: asyncio.AbstractEventLoop, coro: Generator[Any, None, T] | Coroutine[Any, Any, T],
                 **kwargs: Any) -> asyncio.Future[T]:
        task = (self.previous(loop, coro, **kwargs) if self.previous is not None
                else asyncio.Task(coro, loop=loop, **kwargs))
        tasks = _REQUEST_TASKS.get()
        if tasks is not None and isinstance(task, asyncio.Task):
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return task


# -- the rate limit ----------------------------------------------------------------------------------------------

class TokenBuckets:
    """One bucket per key, holding up to a minute's worth of requests and refilled at `per_minute`.

    A bucket left alone for a minute is full again, the same as no bucket: it is forgotten. At most `max_buckets`
    are kept (the longest idle go first), so memory stays bounded whatever the number of users."""

    def __init__(self, per_minute: int, max_buckets: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_buckets = max_buckets
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, when), idlest first

    def take(self, key: str) -> float:
        """Take one token: 0 when there was one, else the seconds until there will be."""
        now = self.clock()
        self._forget_idle(now)
        tokens, at = self.buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self.buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self.buckets) > self.max_buckets:
            self.buckets.popitem(last=False)
        return wait

    def _forget_idle(self, now: float) -> None:
        refill_s = self.capacity / self.rate
        while self.buckets:
            key, (_, at) = next(iter(self.buckets.items()))
            if now - at < refill_s:
                return
            del self.buckets[key]


class RateLimit:
    """At most `per_minute` requests per acting user on `paths` (0: no limit); beyond, 429 with Retry-After.

    Runs after authentication, which puts the acting user in `scope["state"]["actor"]`; a request without one
    counts against its client address. The count is this process's: replicas each keep their own."""

    def __init__(self, app: ASGIApp, per_minute: int, paths: tuple[str, ...] = ("/graphql",),
                 max_buckets: int = 100_000) -> None:
        self.app = app
        self.paths = paths
        self.buckets = TokenBuckets(per_minute, max_buckets) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.buckets is None or scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(_requester(scope))
        if wait > 0:
            record_rate_limited(scope["path"])
            await _refuse_rate(scope, send, max(1, math.ceil(wait)))
            return
        await self.app(scope, receive, send)


def _requester(scope: Scope) -> str:
    sub = getattr(scope.get("state", {}).get("actor"), "sub", None)
    if sub:
        return f"user:{sub}"
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


async def _refuse_rate(scope: Scope, send: Send, retry_after: int) -> None:
    await refuse(scope, send, 429, f"too many requests: try again in {retry_after} s", "RATE_LIMITED",
                 headers=[(b"retry-after", str(retry_after).encode())], retryAfter=retry_after)
