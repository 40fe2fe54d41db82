"""HTTP/1.1 to the backends: keep-alive connections per origin, answers parsed by httptools, with a fraction of a
general client's CPU per call (one exchange at a time per connection, no redirects, no cookies, no proxy)."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import httptools

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # an answer's body, decompressed: a page of records is far smaller
MAX_HEAD_BYTES = 64 * 1024  # its status line and headers (aiohttp allowed 8 KiB a line)
DEFAULT_PORTS = {"http": 80, "https": 443}
_FORBIDDEN_IN_HEADER = re.compile(r"[\r\n\0]")
_UNSAFE_IN_TARGET = re.compile(r"[^\x21-\x7e]")


class TransportError(Exception):
    """A call that got no usable answer: `kind` is `timeout`, `unreachable` (no connection, or it closed before
    any answer) or `transport` (a malformed or oversized answer, a connection cut mid-answer)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: header names lower-cased (a repeated header keeps its last value), the body decoded from
    its content coding."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    host_header: bytes


class Transport:
    """Connections to any number of origins, at most `max_connections` exchanges at once; an idle connection is
    reused for `keepalive_s`, then closed."""

    def __init__(self, *, max_connections: int = 20, timeout_s: float = 10.0, connect_timeout_s: float = 3.0,
                 keepalive_s: float = 15.0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.keepalive_s = keepalive_s
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._origins: dict[str, _Origin] = {}
        self._busy: set[_Connection] = set()
        self.closed = False

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes = b"",
                      timeout_s: float | None = None) -> Answer:
        """One exchange; TransportError when no usable answer comes within `timeout_s` (the transport's own when
        None). A reused connection the server had closed is replaced once for an idempotent method."""
        if self.closed:
            raise TransportError("unreachable", "the transport is closed")
        if method == "HEAD":  # its answer's length names a body that never comes: the parser would wait for it
            raise ValueError("HEAD is not supported")
        origin, target = self._split(url)
        head = _head(method, target, origin.host_header, headers or {}, len(body), method != "GET")
        # One deadline over the whole call: a free slot, a connection, the answer. Each wait is bounded by a timer
        # of its own only when it waits at all (asyncio.timeout costs a task look-up and a timer on every call).
        deadline = asyncio.get_running_loop().time() + (self.timeout_s if timeout_s is None else timeout_s)
        if self._slots.locked():
            try:
                async with asyncio.timeout_at(deadline):
                    await self._slots.acquire()
            except TimeoutError:
                raise TransportError("timeout", "timed out waiting for a connection") from None
        else:
            await self._slots.acquire()  # a free slot: taken at once
        try:
            return await self._exchange(origin, method, head, body, deadline)
        finally:
            self._slots.release()

    async def _exchange(self, origin: _Origin, method: str, head: bytes, body: bytes, deadline: float) -> Answer:
        for _ in range(2):
            if self.closed:
                break
            conn = self._reusable(origin)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin, deadline)
            self._busy.add(conn)
            try:
                answer = await conn.exchange(head, body, deadline)
            except _ClosedUnanswered:
                if reused and method in IDEMPOTENT:
                    continue  # the server closed it as we sent: nothing of ours was answered, so nothing done
                raise TransportError("unreachable", "connection closed before any answer") from None
            except BaseException:
                conn.close()  # cancelled or failed mid-exchange: an answer may still come, so never reuse it
                raise
            finally:
                self._busy.discard(conn)
            if conn.reusable():
                self._idle.setdefault(origin, deque()).append(conn)
            else:
                conn.close()
            return answer
        raise TransportError("unreachable", "connection closed before any answer")

    def _reusable(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been closed by the server
            if conn.reusable() and now - conn.idle_since < self.keepalive_s:
                return conn
            conn.close()
        return None

    async def _connect(self, origin: _Origin, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if origin.scheme == "https":
            tls = self._ssl or ssl.create_default_context()
            self._ssl = tls
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + self.connect_timeout_s)):
                _, conn = await loop.create_connection(
                    _Connection, origin.host, origin.port, ssl=tls, server_hostname=origin.host if tls else None)
        except TimeoutError:
            raise TransportError("timeout", "timed out connecting") from None
        except (OSError, ssl.SSLError) as exc:
            raise TransportError("unreachable", type(exc).__name__) from None
        return conn

    def _split(self, url: str) -> tuple[_Origin, str]:
        """The origin and the request target (path and query) of an absolute http(s) URL."""
        start = url.find("://") + 3
        end = url.find("/", start)
        if end < 0:
            end = len(url)
        origin = self._origins.get(url[:end])
        if origin is None:
            try:
                origin = _origin(url[:end])
            except ValueError:
                raise TransportError("unreachable", "not an http(s) URL") from None
            if len(self._origins) >= 64:
                self._origins.clear()
            self._origins[url[:end]] = origin
        target = url[end:] or "/"
        if _UNSAFE_IN_TARGET.search(target):
            target = _UNSAFE_IN_TARGET.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), target)
        return origin, target

    async def close(self) -> None:
        """Close every connection; exchanges under way fail as unreachable."""
        self.closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        for conn in list(self._busy):
            conn.close()


def _origin(prefix: str) -> _Origin:
    scheme, _, authority = prefix.partition("://")
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS or not authority or "@" in authority:
        raise ValueError("not an http(s) URL without credentials")
    if authority.startswith("["):  # an IPv6 literal
        host, _, rest = authority[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = authority.partition(":")
    port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    return _Origin(scheme, host, port, authority.encode("idna" if not authority.isascii() else "ascii"))


def _head(method: str, target: str, host: bytes, headers: dict[str, str], length: int, with_length: bool) -> bytes:
    lines = [f"{method} {target} HTTP/1.1\r\nHost: ".encode() + host + b"\r\n"]
    for name, value in headers.items():
        line = _LINES.get((name, value))
        if line is None:
            line = _header_line(name, value)
        lines.append(line)
    if "Accept-Encoding" not in headers:
        lines.append(b"Accept-Encoding: gzip, deflate\r\n")
    if "User-Agent" not in headers:  # who calls, for the backends' administrators and their logs
        lines.append(b"User-Agent: ccgw\r\n")
    if with_length or length:
        lines.append(b"Content-Length: %d\r\n" % length)
    lines.append(b"\r\n")
    return b"".join(lines)


# Header lines already checked and encoded: a backend's calls send the same few again and again (bounded).
_LINES: dict[tuple[str, str], bytes] = {}
LINES_KEPT = 256


def _header_line(name: str, value: str) -> bytes:
    if _FORBIDDEN_IN_HEADER.search(name) or _FORBIDDEN_IN_HEADER.search(value):
        raise ValueError("a header holds a line break or a NUL")
    line = f"{name}: {value}\r\n".encode("latin-1")
    if len(_LINES) >= LINES_KEPT:  # a renewed session's token makes new lines: start over rather than grow
        _LINES.clear()
    _LINES[name, value] = line
    return line


class _ClosedUnanswered(Exception):
    """The connection closed before a byte of the answer came."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one exchange at a time, its answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self._parser: Any = None
        self._waiter: asyncio.Future[Answer] | None = None
        self._lost = False
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._head_seen = 0
        self._received = False
        self._headers_done = False
        self._keep_alive = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def reusable(self) -> bool:
        return not self._lost and self.transport is not None and not self.transport.is_closing() and \
            self._waiter is None and self._keep_alive

    async def exchange(self, head: bytes, body: bytes, deadline: float) -> Answer:
        """The answer to one request, or TransportError("timeout") at `deadline` (loop time)."""
        if self._lost or self.transport is None or self.transport.is_closing():
            raise _ClosedUnanswered
        self._reset()
        self._parser = httptools.HttpResponseParser(self)
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_at(deadline, _expire, waiter)
        self.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.transport.write(body)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None
            self.idle_since = time.monotonic()

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # nothing was asked: a server speaking out of turn is not trusted again
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:  # a callback's own error is the cause it was raised in
            raised = exc.__context__
            self._fail(raised if isinstance(raised, TransportError)
                       else TransportError("transport", "malformed answer"))
            return
        if not self._headers_done:  # the parser holds a head in the making, however long: bounded here
            self._head_seen += len(data)
            if self._head_seen > MAX_HEAD_BYTES:
                self._fail(TransportError("transport", "answer's head too large"))

    def eof_received(self) -> bool:
        self._ended()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._ended()

    def _ended(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if not self._received:
            waiter.set_exception(_ClosedUnanswered())
        elif self._headers_done and "content-length" not in self._headers and \
                "transfer-encoding" not in self._headers:
            self._keep_alive = False
            self.on_message_complete()  # an answer without a length ends where the connection does
        else:
            waiter.set_exception(TransportError("transport", "connection closed mid-answer"))

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self._lost = True
        if self.transport is not None:
            self.transport.close()

    # -- httptools' callbacks -----------------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._keep_alive = self._parser.should_keep_alive()
        self._headers_done = True

    def on_body(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > MAX_ANSWER_BYTES:
            raise TransportError("transport", "answer too large")
        self._body.append(chunk)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if 100 <= self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._reset()
            self._received = True
            return
        try:
            body = _decoded(b"".join(self._body), self._headers.get("content-encoding"))
        except TransportError as exc:
            self._fail(exc)
            return
        waiter.set_result(Answer(self._status, self._headers, body))


def _expire(waiter: asyncio.Future[Answer]) -> None:
    if not waiter.done():
        waiter.set_exception(TransportError("timeout", "timed out"))


def _decoded(body: bytes, coding: str | None) -> bytes:
    """A body without its gzip or deflate coding, bounded like any answer."""
    if not coding or not body or coding.strip().lower() == "identity":
        return body
    if coding.strip().lower() not in ("gzip", "x-gzip", "deflate"):
        raise TransportError("transport", "answer in an unknown content coding")
    inflater = zlib.decompressobj(wbits=47)  # zlib or gzip, by its header
    try:
        out = inflater.decompress(body, MAX_ANSWER_BYTES + 1)
    except zlib.error:
        if coding.strip().lower() != "deflate":
            raise TransportError("transport", "malformed compressed answer") from None
        try:  # some servers send raw deflate, without the zlib header
            out = zlib.decompressobj(wbits=-15).decompress(body, MAX_ANSWER_BYTES + 1)
        except zlib.error:
            raise TransportError("transport", "malformed compressed answer") from None
    if len(out) > MAX_ANSWER_BYTES:
        raise TransportError("transport", "answer too large")
    return out
