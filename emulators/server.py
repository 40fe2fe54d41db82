"""Run a stand-in under uvicorn on loopback, in this thread or a background one, able to stop listening."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp

__all__ = ["EmulatorServer"]


class EmulatorServer:
    """A uvicorn server on a fixed or free loopback port; `refuse()` closes the port, `resume()` reopens it. `http`:
    uvicorn's HTTP protocol, by name or class (a server's own, such as the gateway's)."""

    def __init__(self, app: ASGIApp, port: int = 0, host: str = "127.0.0.1",
                 http: type[asyncio.Protocol] | str = "auto") -> None:
        self.host = host
        self._sock = self._bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        self.config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, http=http)
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refusing = False

    @classmethod
    def for_app(cls, app: Any, port: int = 0, host: str = "127.0.0.1") -> EmulatorServer:
        """A server for a stand-in app whose outage knob ("refuse") closes and reopens this server's port."""
        server = cls(app, port, host)
        # A plain function, not the bound method: a bound method would drag the socket into copies of the knobs.
        app.state.knobs.on_outage_change = lambda outage: server.set_outage(outage)
        return server

    def run_until_interrupted(self, banner: str) -> None:
        """Serve (honouring an outage the knobs start with), print the banner ("{url}" filled in), stop on Ctrl-C."""
        self.start()
        self.set_outage(self.server.config.app.state.knobs.outage)
        print(banner.format(url=self.url), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @staticmethod
    def _bind(host: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
        return sock

    def start(self) -> EmulatorServer:
        """Serve in a daemon thread; return once the port accepts connections."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the stand-in did not start")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.server.serve(sockets=[self._sock])

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def set_outage(self, outage: str | None) -> None:
        """Knob hook: 'refuse' closes the listening port and open connections; anything else reopens it."""
        if self._loop is None:
            return
        want_refuse = outage == "refuse"
        if want_refuse != self._refusing:
            self._refusing = want_refuse
            self._loop.call_soon_threadsafe(
                lambda: asyncio.ensure_future(self._close() if want_refuse else self._reopen()))

    def refuse(self) -> None:
        self.set_outage("refuse")

    def resume(self) -> None:
        self.set_outage(None)

    async def _close(self) -> None:
        for srv in self.server.servers:
            srv.close()
        for conn in list(self.server.server_state.connections):
            conn.shutdown()
        self.server.servers = []

    async def _reopen(self) -> None:
        self._sock = self._bind(self.host, self.port)
        config, server = self.config, self.server

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(config=config, server_state=server.server_state,
                                              app_state=server.lifespan.state, _loop=_loop)

        loop = asyncio.get_running_loop()
        srv = await loop.create_server(create_protocol, sock=self._sock, backlog=config.backlog)
        server.servers = [srv]
