"""A graphql-transport-ws client for the tests: a real WebSocket (the `websockets` library) to a running gateway."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"
ACTIVITY_CHANGED = """subscription($personId: ID!) { activityChanged(personId: $personId) {
  change personId activityId
  activity { __typename id kind channel subject sync { connection { name } state } } } }"""
SYNC_CHANGED = """subscription($connectionId: ID) { syncChanged(connectionId: $connectionId) {
  activityId state connection { name } activity { __typename id } } }"""


def ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http") + "/graphql"


class Socket:
    """One connection: open it (optionally with an Origin, other subprotocols), init it with a token, subscribe,
    and read the messages that come."""

    def __init__(self, http_url: str, *, origin: str | None = None, protocols: tuple[str, ...] = (PROTOCOL,),
                 path_suffix: str = "") -> None:
        self._open = contextlib.ExitStack()
        self.ws: ClientConnection = self._open.enter_context(connect(
            ws_url(http_url) + path_suffix, subprotocols=list(protocols), origin=origin,  # type: ignore[arg-type]
            open_timeout=10))

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, timeout: float = 10.0) -> dict:
        return json.loads(self.ws.recv(timeout=timeout))

    def init(self, token: str | None) -> dict:
        """connection_init with `{"authorization": "Bearer <token>"}` (no payload without a token); the answer."""
        self.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"} if token else {}})
        return self.recv()

    def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        self.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    def wait_for(self, check: Callable[[dict], bool], timeout: float = 20.0) -> dict:
        """The first message `check` accepts; the others are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "timed out waiting for a message"
            try:
                message = self.recv(timeout=left)
            except TimeoutError:
                raise AssertionError("timed out waiting for a message") from None
            if message.get("type") == "ping":
                self.send({"type": "pong"})
                continue
            if check(message):
                return message

    def received(self, seconds: float) -> list[dict]:
        """Every message that arrives within `seconds`."""
        out: list[dict] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.recv(timeout=left))
            except TimeoutError:
                break
        return out

    def close_code(self, timeout: float = 10.0) -> int | None:
        """The code the server closed the connection with (waiting for it)."""
        try:
            while True:
                self.ws.recv(timeout=timeout)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None

    def close(self) -> None:
        self._open.close()


def event_of(op_id: str, field: str, where: Callable[[dict], bool] = lambda e: True) -> Callable[[dict], bool]:
    """A check for wait_for: a `next` of operation `op_id` whose `field` event `where` accepts."""
    def check(message: dict) -> bool:
        if message.get("id") != op_id or message.get("type") != "next":
            return False
        event = (message["payload"].get("data") or {}).get(field)
        return event is not None and where(event)
    return check
