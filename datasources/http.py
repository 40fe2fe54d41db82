"""Shared aiohttp plumbing: one session per backend, timeouts, limits, retries with backoff and jitter, and
URLs that never leave the backend's own origin."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from datasources.errors import SourceRejected, SourceUnavailable

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HttpSettings:
    """Per-backend transport settings."""

    timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    max_connections: int = 20
    retries: int = 2
    backoff_s: float = 0.1
    backoff_max_s: float = 2.0


@dataclass(frozen=True)
class Reply:
    """An HTTP answer; header names are lower-cased."""

    status: int
    headers: dict[str, str]
    body: Any


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class HttpBackend:
    """One backend reached over HTTP; subclasses add authentication and the wire format."""

    def __init__(self, source: str, base_url: str, settings: HttpSettings | None = None) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings()
        self._session: aiohttp.ClientSession | None = None
        self.calls = 0

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            s = self.settings
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=s.timeout_s, sock_connect=s.connect_timeout_s),
                connector=aiohttp.TCPConnector(limit=s.max_connections, limit_per_host=s.max_connections),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url_for(self, path: str, base: str | None = None) -> str:
        """The URL to call for a path of ours, or for a URL a reply handed us (a next page, an instance).

        A path is appended to the base; an absolute URL is used only on the backend's own origin, so that
        credentials never travel to a host that a reply names."""
        try:
            parts = urlsplit(path) if isinstance(path, str) else None
        except ValueError:
            parts = None
        if parts is None:
            raise self.rejected("unexpected URL in a reply")
        if not parts.scheme and not parts.netloc:
            if not path.startswith("/"):
                raise self.rejected("unexpected URL in a reply")
            return f"{base or self.base_url}{path}"
        if origin(path) != origin(self.base_url) or parts.username is not None:
            raise self.rejected("unexpected redirect to another origin")
        return path

    async def send(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                   timeout_s: float | None = None, **kwargs: Any) -> Reply:
        """One HTTP exchange; transport failures become SourceUnavailable, redirects SourceRejected."""
        url = self.url_for(path)
        self.calls += 1
        if timeout_s is not None:  # passing timeout=None to aiohttp would turn the session's timeout off
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with self.session.request(method, url, headers=headers, allow_redirects=False,
                                            **kwargs) as resp:
                if resp.status in REDIRECT_STATUSES:
                    raise self.rejected("unexpected redirect", status=resp.status)
                raw = await resp.read()
                body: Any = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = raw.decode("utf-8", "replace")[:500]
                return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)
        except TimeoutError:
            raise SourceUnavailable(self.source, "timed out") from None
        except aiohttp.ClientConnectionError as exc:
            raise SourceUnavailable(self.source, f"unreachable ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:
            raise SourceUnavailable(self.source, f"transport error ({type(exc).__name__})") from None

    async def with_retries(self, attempt_fn: Callable[[], Awaitable[Reply]], *, retries: int | None = None) -> Reply:
        """Run an idempotent exchange, retrying throttling, 5xx and transport failures with jittered backoff."""
        s = self.settings
        total = s.retries if retries is None else retries
        for attempt in range(total + 1):
            try:
                reply = await attempt_fn()
            except SourceUnavailable as exc:
                # A backend that let the whole timeout pass will not answer faster at once: retrying would
                # multiply the caller's wait. Refused connections and resets are retried.
                if attempt >= total or exc.reason == "timed out":
                    raise
                await asyncio.sleep(backoff_delay(attempt, s.backoff_s, s.backoff_max_s))
                continue
            if reply.status in RETRY_STATUSES:
                if attempt >= total:
                    raise SourceUnavailable(self.source, f"HTTP {reply.status}", status=reply.status)
                await asyncio.sleep(_retry_after(reply) or backoff_delay(attempt, s.backoff_s, s.backoff_max_s))
                continue
            return reply
        raise SourceUnavailable(self.source, "no attempt made")  # pragma: no cover

    def rejected(self, reason: str, *, code: str | None = None, status: int | None = None) -> SourceRejected:
        return SourceRejected(self.source, reason, code=code, status=status)


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL (the port made explicit), as browsers compare origins."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return scheme, "", -1  # a port that is not a number matches no origin
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def delay_header_s(value: str | None) -> float | None:
    """Seconds from Retry-After ("2") or Vault's X-VaultAPI-ResponseDelay ("500ms")."""
    if not value:
        return None
    text = value.strip().lower()
    try:
        return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s"))
    except ValueError:
        return None


def _retry_after(reply: Reply) -> float | None:
    """How long the backend asked us to wait before trying again (bounded)."""
    for name in ("retry-after", "x-vaultapi-responsedelay"):
        seconds = delay_header_s(reply.headers.get(name))
        if seconds is not None:
            return min(seconds, 5.0)
    return None
