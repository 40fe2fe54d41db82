"""The backends' HTTP/1.1 transport against servers on loopback that answer byte for byte as told: keep-alive reuse,
the ways an answer can be framed (length, chunks, until close, compressed), every way a call can fail, the connection
cap, TLS, and a connection never reused after a failed or cancelled exchange."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from datasources import transport
from datasources.transport import Transport, TransportError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Seen:
    """What a server saw: the requests' heads and bodies, by connection."""

    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[tuple[int, bytes, bytes]] = field(default_factory=list)  # (connection, head, body)


Handler = Callable[[int, int, bytes, bytes], Awaitable[bytes | None]]  # (connection, nth on it, head, body) -> answer


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length) if length else b""


@pytest.fixture
async def server() -> AsyncIterator[Callable[..., Awaitable[tuple[str, Seen]]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None, close_after: bool = False
                    ) -> tuple[str, Seen]:
        seen = Seen()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.connections += 1
            seen.open_now += 1
            seen.most_open = max(seen.most_open, seen.open_now)
            number, nth = seen.connections, 0
            try:
                while (request := await _read_request(reader)) is not None:
                    nth += 1
                    seen.requests.append((number, *request))
                    answer = await handler(number, nth, *request)
                    if answer is None:
                        break  # close without answering
                    writer.write(answer)
                    await writer.drain()
                    if close_after or b"\r\nconnection: close\r\n" in answer.lower().split(b"\r\n\r\n")[0] + b"\r\n":
                        break
            finally:
                seen.open_now -= 1
                writer.close()

        srv = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
        servers.append(srv)
        port = srv.sockets[0].getsockname()[1]
        return f"{'https' if tls else 'http'}://127.0.0.1:{port}", seen

    yield start
    for srv in servers:
        srv.close()


def ok(body: bytes = b'{"ok":true}', *headers: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), b"".join(h + b"\r\n" for h in headers),
                                                                    body)


def answering_after(seconds: float) -> Handler:
    """A handler that answers every request with `ok()` after `seconds`."""
    async def slow(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(seconds)
        return ok()
    return slow


async def answer_ok(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
    return ok()


async def test_calls_share_one_connection_and_send_a_well_formed_request(server) -> None:
    url, seen = await server(answer_ok)
    client = Transport()
    try:
        for _ in range(3):
            answer = await client.request("GET", url + "/api/v26.1/query?q=x", headers={"Authorization": "t"})
            assert (answer.status, answer.body, answer.headers["content-length"]) == (200, b'{"ok":true}', "11")
        await client.request("POST", url + "/api/v26.1/query", headers={"Content-Type": "application/json"},
                             body=b'{"a":1}')
    finally:
        await client.close()
    assert seen.connections == 1
    head = seen.requests[0][1].decode()
    assert head.startswith("GET /api/v26.1/query?q=x HTTP/1.1\r\n")
    assert f"\r\nHost: {url.removeprefix('http://')}\r\n" in head and "\r\nAuthorization: t\r\n" in head
    assert "\r\nUser-Agent: ccgw\r\n" in head
    assert "Content-Length" not in head  # a GET without a body says nothing of one
    assert seen.requests[3][2] == b'{"a":1}' and b"\r\nContent-Length: 7\r\n" in seen.requests[3][1]


async def test_a_target_outside_plain_ascii_is_percent_encoded(server) -> None:
    url, seen = await server(answer_ok)
    client = Transport()
    try:
        await client.request("GET", url + "/x/Chloé O")
    finally:
        await client.close()
    assert seen.requests[0][1].startswith(b"GET /x/Chlo%C3%A9%20O HTTP/1.1\r\n")


async def test_answers_in_chunks_until_close_and_compressed_are_read_whole(server) -> None:
    payload = b'{"records":[' + b",".join(b'{"Id":"%d"}' % i for i in range(2000)) + b"]}"
    answers = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        ok(gzip.compress(payload), b"Content-Encoding: gzip"),
        ok(zlib.compress(payload), b"Content-Encoding: deflate"),
        ok(b"y" * (1024 * 1024)),  # far past the head's cap in the reads that carry it: only the head counts
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
    ]

    async def handler(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
        return answers[len(seen.requests) - 1]

    url, seen = await server(handler)
    client = Transport()
    try:
        got = [(await client.request("GET", f"{url}/{i}")).body for i in range(len(answers))]
    finally:
        await client.close()
    assert got == [b"hello world", payload, payload, b"y" * (1024 * 1024), b"until the end"]
    assert b"Accept-Encoding: gzip, deflate" in seen.requests[0][1]
    assert seen.connections == 1  # the last closes it after: nothing was asked on it since


async def test_a_connection_the_server_closes_is_not_reused(server) -> None:
    async def handler(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
        return ok(b"{}", b"Connection: close")

    url, seen = await server(handler)
    client = Transport()
    try:
        for _ in range(3):
            assert (await client.request("GET", url + "/")).status == 200
    finally:
        await client.close()
    assert seen.connections == 3


async def test_a_reused_connection_closed_unanswered_is_replaced_for_a_read_only(server) -> None:
    async def handler(connection: int, nth: int, head: bytes, body: bytes) -> bytes | None:
        return ok() if nth == 1 else None  # the second request on a connection: closed as if idle too long

    url, seen = await server(handler)
    client = Transport()
    try:
        await client.request("GET", url + "/a")
        assert (await client.request("GET", url + "/b")).status == 200  # sent again, on a new connection
        with pytest.raises(TransportError) as failed:
            await client.request("POST", url + "/c", body=b"{}")  # a write is never sent twice
    finally:
        await client.close()
    assert failed.value.kind == "unreachable"
    assert [r[1].split(b" ")[1] for r in seen.requests] == [b"/a", b"/b", b"/b", b"/c"]


async def test_a_refused_connection_is_unreachable_and_a_silent_server_times_out(server) -> None:
    async def silent(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(5)
        return ok()

    url, seen = await server(silent)
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    client = Transport(timeout_s=0.2)
    try:
        with pytest.raises(TransportError) as refused:
            await client.request("GET", f"http://127.0.0.1:{closed_port}/")
        with pytest.raises(TransportError) as late:
            await client.request("GET", url + "/")
    finally:
        await client.close()
    assert refused.value.kind == "unreachable" and late.value.kind == "timeout"


async def test_after_a_timeout_the_late_answer_is_never_read_as_the_next_one(server) -> None:
    async def handler(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
        if b"/slow" in head:
            await asyncio.sleep(0.3)
            return ok(b"late")
        return ok(b"fresh")

    url, seen = await server(handler)
    client = Transport()
    try:
        with pytest.raises(TransportError):
            await client.request("GET", url + "/slow", timeout_s=0.1)
        task = asyncio.ensure_future(client.request("GET", url + "/slow"))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.4)  # both late answers have come by now
        assert (await client.request("GET", url + "/next")).body == b"fresh"
    finally:
        await client.close()
    assert seen.connections == 3


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # cut mid-answer
    b"NOT HTTP AT ALL\r\n\r\n",
    ok(b"not gzip", b"Content-Encoding: gzip"),
    ok(b"{}", b"Content-Encoding: br"),
])
async def test_a_malformed_or_cut_answer_is_a_transport_error(server, answer: bytes) -> None:
    async def handler(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
        return answer

    url, _ = await server(handler, close_after=True)
    client = Transport(timeout_s=5)
    try:
        with pytest.raises(TransportError) as failed:
            await client.request("GET", url + "/")
    finally:
        await client.close()
    assert failed.value.kind == "transport"


async def test_an_answer_over_the_cap_is_refused(server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "MAX_ANSWER_BYTES", 1000)
    big = b"x" * 5000

    async def handler(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
        return ok(big) if b"/plain" in head else ok(gzip.compress(big), b"Content-Encoding: gzip")

    url, _ = await server(handler)
    client = Transport()
    try:
        for path in ("/plain", "/zipped"):
            with pytest.raises(TransportError, match="too large"):
                await client.request("GET", url + path)
    finally:
        await client.close()


async def test_an_endless_head_is_refused_without_waiting_for_its_end(server) -> None:
    async def handler(connection: int, nth: int, head: bytes, body: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * (200 * 1024)  # no end of line, no end of head

    url, _ = await server(handler)
    client = Transport(timeout_s=5)
    try:
        with pytest.raises(TransportError, match="head too large") as failed:
            await client.request("GET", url + "/")
    finally:
        await client.close()
    assert failed.value.kind == "transport"


async def test_at_most_max_connections_are_open_at_once(server) -> None:
    url, seen = await server(answering_after(0.05))
    client = Transport(max_connections=2)
    try:
        answers = await asyncio.gather(*(client.request("GET", f"{url}/{i}") for i in range(7)))
    finally:
        await client.close()
    assert [a.status for a in answers] == [200] * 7
    assert seen.most_open == 2 and seen.connections == 2


async def test_one_deadline_covers_the_wait_for_a_connection_and_the_answer(server) -> None:
    url, seen = await server(answering_after(0.3))
    client = Transport(max_connections=1)
    try:
        first = asyncio.ensure_future(client.request("GET", url + "/first"))
        await asyncio.sleep(0.05)
        with pytest.raises(TransportError, match="waiting for a connection") as waited:
            await client.request("GET", url + "/second", timeout_s=0.1)  # the one connection is busy throughout
        assert (await first).status == 200
        with pytest.raises(TransportError) as late:  # a free connection now, but the answer comes too late
            await client.request("GET", url + "/third", timeout_s=0.1)
    finally:
        await client.close()
    assert waited.value.kind == "timeout" and late.value.kind == "timeout"
    assert [r[1].split(b" ")[1] for r in seen.requests] == [b"/first", b"/third"]


async def test_a_header_that_could_split_the_request_is_refused_unsent(server) -> None:
    url, seen = await server(answer_ok)
    client = Transport()
    try:
        with pytest.raises(ValueError):
            await client.request("GET", url + "/", headers={"Authorization": "t\r\nX-Injected: 1"})
    finally:
        await client.close()
    assert seen.requests == []


def _self_signed(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context that trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backend.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    trusting = ssl.create_default_context(cafile=str(tmp / "cert.pem"))
    return served, trusting


async def test_https_is_verified(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served, trusting = _self_signed(tmp_path)
    url, seen = await server(answer_ok, tls=served)
    trusted = Transport(ssl_context=trusting)
    default = Transport()  # the system's authorities: a self-signed certificate is not trusted
    try:
        assert (await trusted.request("GET", url + "/secure")).body == b'{"ok":true}'
        assert (await trusted.request("GET", url + "/again")).status == 200
        with pytest.raises(TransportError) as refused:
            await default.request("GET", url + "/secure")
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # as the README tells for a private CA
        bundled = Transport()
        assert (await bundled.request("GET", url + "/bundled")).status == 200
        await bundled.close()
    finally:
        await trusted.close()
        await default.close()
    assert refused.value.kind == "unreachable"
    assert [r[1].split(b" ")[1] for r in seen.requests] == [b"/secure", b"/again", b"/bundled"]
