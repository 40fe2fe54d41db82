"""ASGI middleware that makes every GraphQL request an authenticated user, or answers 401."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from domain.permissions import Actor
from gateway.auth import Authenticator, IdentityProviderUnavailable, Unauthenticated
from gateway.graphiql import graphql_params
from gateway.refusals import refuse

log = logging.getLogger("ccgw.auth")

class Authentication:
    """On `paths`: the acting user goes to `scope["state"]["actor"]`; a request that proves none gets 401.

    Without an authenticator (no issuer configured) every request acts as `default`. GET of the GraphiQL page
    itself (HTML, no query) stays open: the page signs in before it asks for data."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator | None, default: Actor | None,
                 paths: tuple[str, ...] = ("/graphql",)) -> None:
        self.app = app
        self.authenticator = authenticator
        self.default = default
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A WebSocket is authenticated by its connection_init message (gateway.subscriptions): a browser cannot
        # send the header, and a token in the URL would end up in logs.
        if scope["type"] != "http" or scope["path"] not in self.paths or _ide_page(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        try:
            actor = await self._actor(headers.get(b"authorization", b"").decode("latin-1"))
        except Unauthenticated as exc:
            log.info("request refused: %s", exc.reason)
            await _answer(scope, send, 401, exc.reason, "UNAUTHENTICATED", _challenge(exc))
            return
        except IdentityProviderUnavailable:
            log.warning("request refused: the identity provider's keys are unavailable")
            await _answer(scope, send, 503, "the identity provider cannot be reached to verify the token",
                          "IDENTITY_PROVIDER_UNAVAILABLE", [(b"retry-after", b"5")])
            return
        scope.setdefault("state", {})["actor"] = actor
        await self.app(scope, receive, send)

    async def _actor(self, authorization: str) -> Actor:
        if self.authenticator is None:
            assert self.default is not None
            return self.default
        return await self.authenticator.actor(authorization)


def _ide_page(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
    return "text/html" in accept and not graphql_params(parse_qs(scope.get("query_string", b"").decode("latin-1")))


def _challenge(exc: Unauthenticated) -> list[tuple[bytes, bytes]]:
    value = 'Bearer realm="ccgw"'
    if exc.error:
        value += f', error="{exc.error}", error_description="{exc.reason}"'
    return [(b"www-authenticate", value.encode())]


async def _answer(scope: Scope, send: Send, status: int, message: str, code: str,
                  extra: list[tuple[bytes, bytes]]) -> None:
    await refuse(scope, send, status, message, code, headers=extra)
