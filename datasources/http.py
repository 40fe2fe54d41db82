"""The HTTP client base of both backends: one keep-alive transport (datasources.transport), log-in shared by every
waiting call, one re-login on expiry, retries with backoff and jitter, paging, checked path parts, and URLs that
never leave the backend's origin.

What differs between the backends sits behind two small interfaces, as HTTPX keeps auth flows behind one: `Auth`
(how to log in, how a call carries the credential) and `Replies` (how a reply says the session expired, the request
was refused, or where the next page is)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import orjson
from yarl import URL

from datasources.errors import SourceError, SourceRejected, SourceUnavailable
from datasources.instrument import BackendCall, BackendError, emit
from datasources.transport import DEFAULT_PORTS, Transport, TransportError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_DELAY_ASKED_S = 5.0
OPERATIONS_KEPT = 256
# What could move a path part out of its place: separators, a query or fragment, pre-encoded text, control characters.
_UNSAFE_IN_PART = re.compile(r"[/\\?#%\x00-\x1f\x7f]")
# A path with no scheme or host (not `//`), nor anything urlsplit would strip before reading it.
_PLAIN_PATH = re.compile(r"/(?!/)[^\\\t\r\n]*\Z")


class CallTracer(Protocol):
    """Traces backend calls (gateway/otel.py makes the one in use): `begin` may add headers (the trace context) and
    returns what to call with the call's status, or its error kind when it got no answer, once it is over."""

    def begin(self, source: str, method: str, url: str, headers: dict[str, str]
              ) -> Callable[[int | None, str | None], None]: ...


@dataclass(frozen=True)
class HttpSettings:
    """Per-backend transport settings."""

    timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    max_connections: int = 20
    retries: int = 2
    backoff_s: float = 0.1
    backoff_max_s: float = 2.0
    # Tracing: what traces each call (None: not traced).
    call_tracer: CallTracer | None = None


@dataclass(frozen=True)
class Reply:
    """An HTTP answer; header names are lower-cased."""

    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Credential:
    """What a log-in returned: the session id or token, and the URL to call when the log-in names one."""

    token: str
    base_url: str | None = None


class Auth(ABC):
    """How one backend logs in, and how an authenticated call carries the credential."""

    @abstractmethod
    async def log_in(self, http: HttpBackend) -> Credential:
        """Log in over `http` (with its retries); raise SourceRejected("login failed") when refused."""

    @abstractmethod
    def headers(self, credential: Credential) -> dict[str, str]:
        """The headers that carry the credential."""


class Replies(ABC):
    """How one backend's replies say what happened."""

    @abstractmethod
    def expired(self, reply: Reply) -> bool:
        """The session or token the call carried is no longer valid."""

    @abstractmethod
    def refusal(self, reply: Reply, source: str) -> SourceError | None:
        """The typed error a reply amounts to, in words of ours; None when it is an answer."""

    @abstractmethod
    def page(self, body: Any) -> tuple[list[dict], str | None]:
        """A query reply's records and the URL of its next page (None on the last)."""


def query_string(**params: str) -> str:
    """`params` as a query string, or an application/x-www-form-urlencoded body: any form parser reads back the same
    values. yarl's quoter is C; urllib's makes a Python call per byte of a long VQL or SOQL statement."""
    return URL.build(query=params).raw_query_string


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class HttpBackend:
    """One backend reached over HTTP; subclasses give it an `Auth`, its `Replies` and the API's resources."""

    # What readiness fetches (unauthenticated) to tell that the backend answers.
    probe_path = "/"
    # (method or None for any, pattern of the URL path, name): what a request does, for metrics (operation_of).
    operations: tuple[tuple[str | None, re.Pattern[str], str], ...] = ()

    def __init__(self, source: str, base_url: str, settings: HttpSettings | None = None, *, auth: Auth,
                 replies: Replies) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings()
        self.auth = auth
        self.replies = replies
        self.calls = 0
        self._transport: Transport | None = None
        self._credential: Credential | None = None
        self._login: asyncio.Task[Credential] | None = None
        self._operations: dict[tuple[str, str], str] = {}  # (method, URL) -> operation_of
        self._accepted: set[str] = set()  # absolute URLs url_for accepted

    @property
    def transport(self) -> Transport:
        if self._transport is None or self._transport.closed:
            s = self.settings
            self._transport = Transport(max_connections=s.max_connections, timeout_s=s.timeout_s,
                                        connect_timeout_s=s.connect_timeout_s)
        return self._transport

    async def close(self) -> None:
        if self._login is not None:
            self._login.cancel()
            self._login = None
        if self._transport is not None:
            await self._transport.close()
            self._transport = None

    # -- the authenticated exchange ------------------------------------------------------------------------

    async def credential(self) -> Credential:
        """The current credential. Without one, one log-in runs and every call that needs it waits for that
        one (and shares its failure), however many there are."""
        if self._credential is not None:
            return self._credential
        if self._login is None:
            self._login = asyncio.get_running_loop().create_task(self._log_in())
        # Shielded: a waiter that gives up (its deadline passed) does not cancel the log-in the others wait for.
        return await asyncio.shield(self._login)

    async def _log_in(self) -> Credential:
        try:
            self._credential = await self.auth.log_in(self)
            return self._credential
        except SourceRejected:
            emit(BackendError(self.source, "login_failed"))
            raise
        finally:
            self._login = None

    def _forget(self, credential: Credential) -> None:
        """Drop an expired credential, unless another call has already replaced it."""
        if self._credential is credential:
            self._credential = None

    async def call(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> Reply:
        """One authenticated call: an expired session is renewed once (a second expiry in a row is an error);
        a refusal in the reply becomes a typed error. `retry=False` for writes that must not run twice."""
        for _ in range(2):
            credential = await self.credential()
            url = self.url_for(path, credential.base_url)
            headers = {**self.auth.headers(credential), "Accept": "application/json"}

            async def attempt(url: str = url, headers: dict[str, str] = headers) -> Reply:
                return await self.send(method, url, headers=headers, **kwargs)

            reply = await self.with_retries(attempt, retries=None if retry else 0)
            self.observe(reply)
            if not self.replies.expired(reply):
                break
            self._forget(credential)
        else:
            emit(BackendError(self.source, "session_expired"))
            raise SourceUnavailable(self.source, "session could not be renewed", status=reply.status,
                                    code="INVALID_SESSION_ID")
        refusal = self.refusal_of(reply)
        if refusal is not None:
            raise refusal
        return reply

    def refusal_of(self, reply: Reply) -> SourceError | None:
        """The typed error an authenticated reply amounts to (reported as a backend error), or None."""
        refusal = self.replies.refusal(reply, self.source)
        if refusal is not None:
            emit(BackendError(self.source, _refusal_kind(refusal)))
        return refusal

    def observe(self, reply: Reply) -> None:
        """Called with every authenticated reply; a backend that reports its budget in headers notes it here."""

    async def probe(self) -> None:
        """A real round trip for readiness: the credential (a log-in when there is none; it is kept after), then
        `probe_path`; SourceUnavailable when the backend answers with a server error."""
        await self.credential()
        reply = await self.send("GET", self.probe_path)
        if reply.status >= 500:
            raise SourceUnavailable(self.source, f"HTTP {reply.status}", status=reply.status)

    def state(self) -> dict[str, object]:
        """What readiness shows administrators of the backend's state, beyond whether it answers."""
        return {}

    async def pages(self, method: str, path: str, *, limit: int, **kwargs: Any) -> list[dict]:
        """A query's records, following each next page the replies name (on this backend's origin only) until
        the last page or until `limit` records are in."""
        records, next_url = self.replies.page((await self.call(method, path, **kwargs)).body)
        return await self.rest_of(method, records, next_url, limit=limit)

    async def rest_of(self, method: str, records: list[dict], next_url: str | None, *, limit: int) -> list[dict]:
        """`records` and those of the next pages from `next_url` on, until the last page or `limit` records."""
        while next_url and len(records) < limit:
            more, next_url = self.replies.page((await self.call(method, next_url)).body)
            records.extend(more)
        return records

    # -- URLs -------------------------------------------------------------------------------------------------

    def path_part(self, value: str) -> str:
        """One segment of a path of ours (an object name, a record id, an external id), quoted. A value that
        could step out of its segment (`/`, `..`, `?`, `#`, `%`, a control character) is refused, unsent."""
        if not isinstance(value, str) or value in ("", ".") or ".." in value or _UNSAFE_IN_PART.search(value):
            raise self.rejected("invalid path part")
        return quote(value, safe="")

    def url_for(self, path: str, base: str | None = None) -> str:
        """The URL to call for a path of ours, or for a URL a reply handed us (a next page, an instance).

        A path is appended to the base; an absolute URL is used only on the backend's own origin, so that
        credentials never travel to a host that a reply names."""
        if isinstance(path, str) and _PLAIN_PATH.match(path):
            return f"{base or self.base_url}{path}"  # a path of ours: what urlsplit would find, found sooner
        if path in self._accepted:  # a URL made above, sent on (`call`, then `send`): the same few, checked once
            return path
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
        if len(self._accepted) >= OPERATIONS_KEPT:  # URLs naming record ids: keep it bounded
            self._accepted.clear()
        self._accepted.add(path)
        return path

    # -- transport ----------------------------------------------------------------------------------------------

    async def send(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                   timeout_s: float | None = None, params: Mapping[str, str] | None = None, json: Any = None,
                   data: Mapping[str, str] | bytes | None = None) -> Reply:
        """One HTTP exchange: `params` added to the query, `json` or `data` (a form, as a mapping or already
        encoded) as the body. Transport failures become SourceUnavailable, redirects SourceRejected. Each is
        reported (datasources.instrument) with its operation, status and duration."""
        url = self.url_for(path)
        sent = url if not params else f"{url}{'&' if '?' in url else '?'}{query_string(**params)}"
        headers = dict(headers) if headers else {}
        body = b""
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        elif data is not None:
            body = data if isinstance(data, bytes) else query_string(**data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.calls += 1
        tracer = self.settings.call_tracer
        finish = tracer.begin(self.source, method, sent, headers) if tracer is not None else None
        started = time.perf_counter()
        try:
            answer = await self.transport.request(method, sent, headers=headers, body=body, timeout_s=timeout_s)
        except TransportError as exc:
            error = exc.kind if exc.kind in ("timeout", "unreachable") else "transport"
            self._report(method, url, started, None, error, finish)
            reason = {"timeout": "timed out", "unreachable": f"unreachable ({exc})"}.get(error,
                                                                                       f"transport error ({exc})")
            raise SourceUnavailable(self.source, reason) from None
        except BaseException as exc:  # cancelled (a deadline), or a header the transport refused
            if finish is not None:
                finish(None, type(exc).__name__)
            raise
        if answer.status in REDIRECT_STATUSES:
            self._report(method, url, started, answer.status, "rejected", finish)
            raise self.rejected("unexpected redirect", status=answer.status)
        reply = Reply(answer.status, answer.headers, _decode(answer.body))
        self._report(method, url, started, reply.status, None, finish)
        return reply

    def operation_of(self, method: str, url: str) -> str:
        """What a request does, in a word of a small fixed set (`query`, `login`, `upsert`...), never an id."""
        known = self._operations.get((method, url))
        if known is not None:  # a read asks the same few URLs again and again (the query text is a parameter)
            return known
        path = urlsplit(url).path
        name = next((name for verb, pattern, name in self.operations
                     if (verb is None or verb == method) and pattern.search(path)), "other")
        if len(self._operations) >= OPERATIONS_KEPT:  # URLs naming record ids: keep the memo bounded
            self._operations.clear()
        self._operations[method, url] = name
        return name

    def _report(self, method: str, url: str, started: float, status: int | None, error: str | None,
                finish: Callable[[int | None, str | None], None] | None = None) -> None:
        if finish is not None:
            finish(status, error)
        if error is None and status is not None and (status == 429 or status >= 500):
            error = "throttled" if status == 429 else "server_error"
        emit(BackendCall(self.source, self.operation_of(method, url), method, status,
                         time.perf_counter() - started, error))
        if error is not None:
            emit(BackendError(self.source, error))

    async def with_retries(self, attempt_fn: Callable[[], Awaitable[Reply]], *, retries: int | None = None) -> Reply:
        """Run an idempotent exchange, retrying throttling, 5xx and transport failures with jittered backoff
        (or as long as the backend asked, bounded)."""
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


def _refusal_kind(refusal: SourceError) -> str:
    """A refusal as a backend error kind: `not_found` apart, as callers often expect it (a record already gone)."""
    if isinstance(refusal, SourceRejected):
        return "not_found" if refusal.status == 404 else "rejected"
    return "unavailable"


def _decode(raw: bytes) -> Any:
    """A reply body: JSON when it is, else the start of its text (never shown to a client), else None."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:500]


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
            return min(seconds, MAX_DELAY_ASKED_S)
    return None
