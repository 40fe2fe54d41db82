"""An answer's status line, headers and body leave in one write; answers streamed later, HEAD answers, keep-alive,
closing and WebSockets work as under uvicorn's own protocol. Real uvicorn servers on loopback; the writes are
counted on the connection's real transport."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.sync.client import connect

from gateway.http_protocol import OneWriteHttp

WRITES: list[bytes] = []


class Counted:
    """The connection's real transport, with every write noted."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CountedOneWrite(OneWriteHttp):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Counted(transport))  # type: ignore[arg-type]


class CountedUvicorn(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Counted(transport))  # type: ignore[arg-type]


async def small(request: Request) -> Response:
    return JSONResponse({"data": {"text": "x" * 500}})


HEAD_SEEN = threading.Event()  # the client has the streamed answer's head: only then does its body come


async def streamed(request: Request) -> Response:
    async def parts() -> Any:
        await asyncio.to_thread(HEAD_SEEN.wait, 5)
        yield b"late"
    return StreamingResponse(parts(), media_type="text/plain")


async def posted(request: Request) -> Response:
    return Response(b"got " + await request.body(), media_type="text/plain")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


APP = Starlette(routes=[Route("/small", small, methods=["GET", "HEAD"]), Route("/streamed", streamed),
                        Route("/posted", posted, methods=["POST"]), WebSocketRoute("/ws", echo)])


def serve(protocol: type) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(APP, host="127.0.0.1", port=port, http=protocol, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def ours() -> Iterator[str]:
    yield from serve(CountedOneWrite)


@pytest.fixture(scope="module")
def uvicorns() -> Iterator[str]:
    yield from serve(CountedUvicorn)


def answers(url: str, *requests: tuple[str, str]) -> list[httpx.Response]:
    WRITES.clear()
    with httpx.Client(base_url=url, timeout=5) as client:  # one keep-alive connection
        return [client.request(method, path) for method, path in requests]


def test_a_small_answer_is_one_write(ours: str, uvicorns: str) -> None:
    [got] = answers(ours, ("GET", "/small"))
    assert got.status_code == 200 and got.json() == {"data": {"text": "x" * 500}}
    assert len(WRITES) == 1
    assert WRITES[0].startswith(b"HTTP/1.1 200 OK\r\n") and WRITES[0].endswith(got.content)
    answers(uvicorns, ("GET", "/small"))
    assert len(WRITES) == 2  # uvicorn's own: the head, then the body


def test_answers_on_one_connection_are_one_write_each_in_order(ours: str) -> None:
    got = answers(ours, ("GET", "/small"), ("HEAD", "/small"), ("GET", "/small"))
    assert [r.status_code for r in got] == [200, 200, 200] and got[1].content == b""
    assert len(WRITES) == 3
    assert WRITES[1].startswith(b"HTTP/1.1 200 OK\r\n") and WRITES[1].endswith(b"\r\n\r\n")  # HEAD: the head alone
    assert WRITES[2].endswith(got[2].content)


def test_a_head_whose_body_comes_later_is_not_held_back(ours: str) -> None:
    WRITES.clear()
    HEAD_SEEN.clear()
    with httpx.Client(base_url=ours, timeout=10) as client:
        asked = time.monotonic()
        with client.stream("GET", "/streamed") as resp:  # back once the head is in
            waited = time.monotonic() - asked
            HEAD_SEEN.set()
            assert resp.status_code == 200 and resp.read() == b"late"
    assert waited < 4  # a head held for its body would have come only after the body's 5 s wait
    assert WRITES[0].startswith(b"HTTP/1.1 200 OK\r\n") and b"late" not in WRITES[0]


def test_a_closing_answer_is_sent_whole_before_the_connection_closes(ours: str) -> None:
    WRITES.clear()
    with httpx.Client(base_url=ours, timeout=5, headers={"Connection": "close"}) as client:
        got = client.get("/small")
    assert got.status_code == 200 and got.json() == {"data": {"text": "x" * 500}}
    assert len(WRITES) == 1


def test_websockets_still_upgrade(ours: str) -> None:
    with connect("ws" + ours.removeprefix("http") + "/ws") as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"


def raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def read_until(sock: socket.socket, marker: bytes, count: int = 1) -> bytes:
    got = b""
    while got.count(marker) < count:
        part = sock.recv(65536)
        assert part, f"closed after {got!r}"
        got += part
    return got


def test_pipelined_requests_are_answered_in_order(ours: str) -> None:
    with raw(ours) as sock:
        sock.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\nHEAD /small HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        got = read_until(sock, b"}}", 2)
    assert got.count(b"HTTP/1.1 200 OK\r\n") == 3
    first, second, third = got.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert first.endswith(b"}}") and second.endswith(b"\r\n\r\n") and third.endswith(b"}}")


def test_a_client_that_expects_100_continue_gets_it_before_sending_its_body(ours: str) -> None:
    with raw(ours) as sock:
        sock.sendall(b"POST /posted HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"hello")
        got = read_until(sock, b"got hello")
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"\r\n\r\ngot hello")
