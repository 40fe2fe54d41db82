"""`ccgw serve --processes N`: N gateway processes, each with its own listening socket on the same port
(SO_REUSEPORT), so the kernel spreads connections evenly and every accepted socket gets TCP_NODELAY.

Each process opens its socket as `socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)`: asyncio sets TCP_NODELAY only on
sockets whose protocol is TCP, which a pre-made `socket()` (what uvicorn's `--workers` hands its workers) is not.
Only the first process runs the outbox worker (the SQLite store wants a single one); the metrics of all processes
add up in every scrape through a shared PROMETHEUS_MULTIPROC_DIR (a fresh temporary one unless set). Live updates
cross processes only through PostgreSQL (LISTEN/NOTIFY): on SQLite a warning says so at start.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import replace
from multiprocessing.process import BaseProcess

from gateway.settings import Settings

log = logging.getLogger("ccgw.serve")
# prometheus_client's multiprocess mode (gateway/metrics_endpoint.py reads the same variable).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT (shared with the other processes) and listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_one(settings: Settings, host: str, port: int) -> None:
    """One gateway process on its own SO_REUSEPORT socket (run in a child, or in this process when N is 1)."""
    import uvicorn

    from gateway.app import create_app
    from gateway.http_protocol import OneWriteHttp
    from gateway.logs import configure_logging

    configure_logging(settings.log_format)
    sock = listening_socket(host, port)
    config = uvicorn.Config(create_app(settings), http=OneWriteHttp, log_config=None, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _stop(children: list[BaseProcess], grace_s: float = 15.0) -> None:
    for child in children:
        if child.is_alive() and child.pid is not None:
            os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join()


def _migrate(database_url: str) -> None:
    from datasources.store.db import migrate

    migrate(database_url)


def _migrate_once(spawn: multiprocessing.context.SpawnContext, database_url: str) -> int | None:
    """The store's migrations, once, before the processes start (each would race the others to them); in a child
    of its own, so that this supervising process stays small."""
    child = spawn.Process(target=_migrate, args=(database_url,), name="ccgw-migrate")
    child.start()
    child.join()
    return child.exitcode


def sqlite_warnings(settings: Settings, processes: int) -> list[str]:
    """What several processes on one SQLite store cannot share: events, and so the forgetting of kept answers."""
    if not settings.database_url.startswith("sqlite"):
        return []
    out = [f"{processes} processes on a SQLite store: live updates reach only the subscribers of the process that "
           "made the change (PostgreSQL's LISTEN/NOTIFY reaches all)"]
    if settings.read_cache_s > 0:
        out.append(f"{processes} processes on a SQLite store: a change forgets the answers kept for queries only in "
                   f"the process that made it; the others keep theirs up to CCGW_READ_CACHE_S "
                   f"({settings.read_cache_s:g} s)")
    return out


def serve_processes(settings: Settings, host: str, port: int, processes: int) -> int:
    """Start `processes` children (the first one with the worker when `settings.worker`); SIGTERM or SIGINT stops
    them all, and so does any one of them exiting. Returns the exit code."""
    for warning in sqlite_warnings(settings, processes):
        log.warning("%s", warning)
    own_metrics_dir = None if os.environ.get(MULTIPROC_ENV) else tempfile.mkdtemp(prefix="ccgw-metrics-")
    if own_metrics_dir:
        os.environ[MULTIPROC_ENV] = own_metrics_dir
    spawn = multiprocessing.get_context("spawn")
    try:
        if _migrate_once(spawn, settings.database_url) != 0:
            return 1
        return _supervise(spawn, settings, host, port, processes)
    finally:
        if own_metrics_dir:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def _supervise(spawn: multiprocessing.context.SpawnContext, settings: Settings, host: str, port: int,
               processes: int) -> int:
    children: list[BaseProcess] = []
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(processes):
            own = replace(settings, worker=settings.worker and index == 0)
            children.append(spawn.Process(target=serve_one, args=(own, host, port), name=f"ccgw-{index}"))
            children[-1].start()
        while not stopping and all(c.is_alive() for c in children):
            time.sleep(0.2)
        failed = not stopping
    finally:
        _stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0
