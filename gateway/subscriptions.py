"""Subscriptions over WebSocket: graphql-transport-ws only, the Origin allow-list, the token sent in connection_init,
a bound on the subscriptions of one connection, and the socket closed when its token expires."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.websocket_origin import normalize_allowed_origins
from strawberry.schema.base import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types.graphql import OperationType

from domain.permissions import Actor
from gateway.auth import Authenticator, IdentityProviderUnavailable, Unauthenticated
from gateway.settings import Settings
from resolvers.context import Services, build_context

log = logging.getLogger("ccgw.subscriptions")
PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)  # the legacy `graphql-ws` protocol is not offered
# Close codes (graphql-transport-ws): refused in connection_init, or the token expired while connected.
FORBIDDEN = 4403
# The context key holding the task that closes the socket when its token expires.
_EXPIRY = "ccgw_expiry"


@dataclass(frozen=True)
class SocketSettings:
    """What the WebSocket endpoint allows: other origins than its own, subscriptions per connection, and how long
    a connection may stay without connection_init."""

    allowed_origins: tuple[str, ...] = ()
    max_subscriptions: int = 20
    init_timeout_s: float = 10.0

    @classmethod
    def of(cls, settings: Settings) -> SocketSettings:
        return cls(allowed_origins=parse_origins(settings.ws_allowed_origins),
                   max_subscriptions=settings.ws_max_subscriptions, init_timeout_s=settings.ws_init_timeout_s)

    def view_options(self) -> dict[str, Any]:
        """The strawberry view's own options; its subscription limit is ours (SocketHandler), with a code."""
        return {"subscription_protocols": PROTOCOLS, "allowed_origins": self.allowed_origins,
                "connection_init_wait_timeout": timedelta(seconds=self.init_timeout_s),
                "max_subscriptions_per_connection": None}


def parse_origins(value: str) -> tuple[str, ...]:
    """The origins (besides the gateway's own) whose pages may open a socket: comma-separated, each
    `scheme://host[:port]`; ValueError names one that is not."""
    origins = tuple(o.strip() for o in value.split(",") if o.strip())
    normalize_allowed_origins(origins)
    return origins


class SocketHandler(BaseGraphQLTransportWSHandler):
    """strawberry's graphql-transport-ws handler, with: subscriptions only (queries and mutations go over HTTP,
    with its limits), a context per operation (each event's fields get a fresh one), and a subscription limit that
    answers an error with a code, the connection kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["schema"] = _SubscriptionsOnly(kwargs["schema"])
        super().__init__(*args, **kwargs)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = getattr(self.view, "max_subscriptions", None)
        if (limit is not None and self.connection_acknowledged and message["id"] not in self.operations
                and len(self.operations) >= limit):
            await self.send_message({"id": message["id"], "type": "error", "payload": [{
                "message": f"At most {limit} subscriptions may be active on one connection",
                "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": limit}}]})
            return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        expiry = self.context.get(_EXPIRY) if isinstance(self.context, dict) else None
        if expiry is not None:
            expiry.cancel()
        await super().shutdown()


class _SubscriptionsOnly:
    """The schema as the handler sees it: each operation streams with a copy of the connection's context, and only
    subscriptions are allowed."""

    def __init__(self, schema: BaseSchema) -> None:
        self._schema = schema

    def __getattr__(self, name: str) -> Any:
        return getattr(self._schema, name)

    async def stream(self, query: str | None, variable_values: dict[str, Any] | None = None,
                     context_value: Any = None, root_value: Any = None, operation_name: str | None = None,
                     **kwargs: Any) -> Any:
        return await self._schema.stream(query, variable_values, dict(context_value or {}), root_value,
                                         operation_name, allowed_operation_types=(OperationType.SUBSCRIPTION,))


async def accept_connection(websocket: WebSocket, context: dict[str, Any], services: Services) -> None:
    """connection_init: the token in its payload (`{"authorization": "Bearer <jwt>"}`) makes the connection's user;
    ConnectionRejectionError (closed with 4403) when it proves none. A token in the URL is never looked at."""
    state = websocket.app.state
    params = context.get("connection_params") or {}
    value = params.get("authorization") if isinstance(params, dict) else None
    try:
        actor, expires = await _actor(state.authenticator, state.default_actor, value)
    except Unauthenticated as exc:
        log.info("subscription connection refused: %s", exc.reason)
        raise ConnectionRejectionError({"reason": exc.reason}) from None
    except IdentityProviderUnavailable:
        log.warning("subscription connection refused: the identity provider's keys are unavailable")
        raise ConnectionRejectionError({"reason": "the identity provider cannot be reached"}) from None
    context["ctx"] = await build_context(services, actor)
    if expires is not None:
        context[_EXPIRY] = asyncio.create_task(_close_when_expired(websocket, expires))


async def _actor(authenticator: Authenticator | None, default: Actor | None,
                 authorization: object) -> tuple[Actor, float | None]:
    if authenticator is None:
        assert default is not None
        return default, None
    if not isinstance(authorization, str) or not authorization:
        raise Unauthenticated("connection_init carries no authorization", error=None)
    actor, expires = await authenticator.actor_until(authorization)
    return actor, expires + authenticator.leeway_s


async def _close_when_expired(websocket: WebSocket, expires: float) -> None:
    """Close the socket once its token has expired (the leeway granted): a subscription lives no longer than the
    token that opened it."""
    await asyncio.sleep(max(0.0, expires - time.time()))
    log.info("subscription connection closed: its token expired")
    with contextlib.suppress(Exception):
        await websocket.close(FORBIDDEN, "Forbidden: the token has expired")
