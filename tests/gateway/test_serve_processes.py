"""`ccgw serve --processes N`: one SO_REUSEPORT socket per process, TCP_NODELAY on what they accept, and two
processes serving the demo's timeline query together."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from gateway.serve import listening_socket
from tests.conftest import global_id

ROOT = Path(__file__).resolve().parents[2]
TIMELINE = """query($id: ID!) { person(id: $id) { lastName accounts { connection { name } accountId }
  timeline(first: 20) { edges { node { __typename id date sync { state } } } pageInfo { hasNextPage } } } }"""


async def _accepted_nodelay(sock: socket.socket) -> int:
    """TCP_NODELAY of the first connection an asyncio server on `sock` accepts."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[int] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            got.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = await loop.create_server(Probe, sock=sock)
    _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
    try:
        return await asyncio.wait_for(got, 5)
    finally:
        writer.close()
        server.close()


def test_accepted_connections_get_tcp_nodelay() -> None:
    assert asyncio.run(_accepted_nodelay(listening_socket("127.0.0.1", 0))) == 1
    # What uvicorn --workers hands its workers, a socket made without its protocol: asyncio skips TCP_NODELAY.
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    plain.listen()
    assert asyncio.run(_accepted_nodelay(plain)) == 0


def test_processes_share_one_port() -> None:
    first = listening_socket("127.0.0.1", 0)
    second = listening_socket("127.0.0.1", first.getsockname()[1])
    assert second.getsockname() == first.getsockname()
    first.close()
    second.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        found.update(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    return found


def _owners_of_connections(pids: set[int], port: int) -> list[int]:
    """The pid holding each established server-side connection on `port` (from /proc/net/tcp and fd links)."""
    owner = {}
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                owner[link[8:-1]] = pid
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if int(cols[1].split(":")[1], 16) == port and cols[3] == "01" and cols[9] in owner:
            found.append(owner[cols[9]])
    return found


def _wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, f"ccgw serve exited {proc.returncode}"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "ccgw serve --processes 2 did not start"
        time.sleep(0.1)


@pytest.fixture
def two_processes(stack):  # noqa: ANN001, ANN201
    """`ccgw serve --processes 2` over the session's stand-ins and identity provider, with its own store."""
    from gateway.demo import configure

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ccgw-serve-')) / 'gateway.db'}"
    configure(url, stack.orgs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCGW_") or k in (
        "CCGW_CTMS_USERNAME", "CCGW_CTMS_PASSWORD", "CCGW_DEMO_CLIENT_ID", "CCGW_DEMO_CLIENT_SECRET")}
    env.update(CCGW_DATABASE_URL=url, CCGW_CTMS_URL=stack.ctms.url, CCGW_OIDC_ISSUER=stack.idp.url,
               CCGW_POLL_INTERVAL_S="0", CCGW_RATE_LIMIT_PER_MINUTE="0", PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp())
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from gateway.cli import app; app()", "serve", "--port", str(port),
                             "--processes", "2"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(proc, f"http://127.0.0.1:{port}")
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow  # processes of its own
def test_two_processes_both_answer_the_timeline(stack, two_processes) -> None:  # noqa: ANN001
    proc, port = two_processes
    token = stack.token("ada.admin@ctms.example.com")
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                            headers={"Authorization": f"Bearer {token}"}) for _ in range(16)]
    try:
        for i, client in enumerate(clients):
            person = global_id("Person", f"0PE{(i % 10) + 1:012d}")
            answer = client.post("/graphql", json={"query": TIMELINE, "variables": {"id": person}})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert "errors" not in body, body
            assert body["data"]["person"]["timeline"]["edges"], body
        workers = _children(proc.pid)
        owners = _owners_of_connections(workers, port)
    finally:
        for client in clients:
            client.close()
    assert len(owners) == len(clients)
    assert len(set(owners)) == 2, f"every connection went to one process: {owners}"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in set(owners))  # both stopped with it


def test_several_processes_on_sqlite_are_warned_of_what_they_do_not_share() -> None:
    from gateway.serve import sqlite_warnings
    from gateway.settings import Settings

    sqlite = Settings(database_url="sqlite:///x.db")
    assert [w.split(":")[1].strip()[:10] for w in sqlite_warnings(sqlite, 2)] == ["live updat"]
    cached = sqlite_warnings(Settings(database_url="sqlite:///x.db", read_cache_s=5.0), 2)
    assert len(cached) == 2 and "CCGW_READ_CACHE_S (5 s)" in cached[1]
    assert sqlite_warnings(Settings(database_url="postgresql+asyncpg://h/db", read_cache_s=5.0), 2) == []
