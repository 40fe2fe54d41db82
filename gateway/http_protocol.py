"""uvicorn's HTTP/1.1 protocol (httptools) sending an answer's status line and headers together with its first body
part: uvicorn writes them apart, two system calls (and, with TCP_NODELAY, two packets) for every small answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeldHead:
    """One request's view of the connection's transport: its first write (the status line and headers) waits for
    the next one (the first body part) and goes out with it, or goes out alone at the end of the loop iteration
    (an answer streamed later, a HEAD answer)."""

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held = b""
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self.release)
            return
        if self._held:
            data, self._held = self._held + data, b""
        self._transport.write(data)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        self.write(b"".join(chunks))

    def release(self) -> None:
        """Send what is held, if the connection is still open."""
        held, self._held = self._held, b""
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttp(HttpToolsProtocol):
    """Each request's answer is written through a `HeldHead`; everything else is uvicorn's."""

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:
            self.cycle.transport = HeldHead(self.cycle.transport, self.loop)  # type: ignore[assignment]
