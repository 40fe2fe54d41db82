"""A request id for every HTTP request: the caller's `X-Request-Id` when it is a sane token, else a new one; kept in
the request's state for errors and logs (`request.state.request_id`) and echoed on the response."""

from __future__ import annotations

import random
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-Id"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_of(scope: Scope) -> str | None:
    """The id RequestId gave this request, for code that sees only the ASGI scope."""
    return (scope.get("state") or {}).get("request_id")


class RequestId:
    """Outermost middleware: every answer, refusals included, carries the id its logs and errors name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        # 128 random bits as 32 hex digits, like a uuid4's hex, without its system call for every request: an id
        # tells requests apart in logs, it guards nothing.
        rid = given if _SANE.fullmatch(given) else f"{random.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
