"""Liveness and readiness: the database and every source, reachable or not; details for administrators only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import cast

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from datasources.backends import Backends
from datasources.errors import SourceError, SourceUnavailable
from datasources.http import HttpBackend
from domain.permissions import Permission
from gateway.auth import IdentityProviderUnavailable, Unauthenticated
from resolvers.context import Services


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


async def _probe(coro) -> dict:  # noqa: ANN001
    try:
        await asyncio.wait_for(coro, timeout=3)
        return {"reachable": True}
    except SourceError as exc:
        return {"reachable": False, "error": exc.reason}
    except Exception as exc:  # noqa: BLE001 - readiness reports every kind of failure
        return {"reachable": False, "error": type(exc).__name__}


async def _check(services: Services) -> dict:
    # Readiness probes the clients themselves: the gateway's services always hold the real Backends.
    store, backends = services.store, cast(Backends, services.backends)

    async def db() -> None:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def reach(client: HttpBackend, login: Callable[[], Awaitable[str]], path: str) -> None:
        # Credentials are cached after the first login: a real round trip each time tells whether it is up now.
        await login()
        reply = await client.send("GET", path)
        if reply.status >= 500:
            raise SourceUnavailable(client.source, f"HTTP {reply.status}", status=reply.status)

    rows = await store.connections(enabled_only=True)
    clients = [backends.crm_client(r) for r in rows]
    checks = await asyncio.gather(_probe(db()), _probe(reach(backends.ctms, backends.ctms.login, "/api")),
                                  *(_probe(reach(c, c.token, "/services/data")) for c in clients))
    sources = [{"name": "ctms", "url": backends.ctms.base_url, **checks[1],
                "burstRemaining": backends.ctms.burst_remaining, "responseDelayS": backends.ctms.response_delay_s}]
    sources += [{"name": c.source, "url": c.base_url, **check} for c, check in zip(clients, checks[2:], strict=True)]
    ok = all(c["reachable"] for c in checks)
    return {"status": "ready" if ok else "degraded", "database": checks[0], "sources": sources}


class Readiness:
    """`/readyz`: probes are shared for `cache_s` seconds, so a busy probe loop does not hit every backend."""

    def __init__(self, cache_s: float) -> None:
        self.cache_s = cache_s
        self._last: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()

    async def endpoint(self, request: Request) -> JSONResponse:
        body = await self._body(request.app.state.services)
        code = 200 if body["status"] == "ready" else 503
        if not await _is_admin(request):
            return JSONResponse({"status": body["status"]}, status_code=code)
        return JSONResponse(body, status_code=code)

    async def _body(self, services: Services) -> dict:
        async with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] > self.cache_s:
                self._last = (now, await _check(services))
            return self._last[1]


async def _is_admin(request: Request) -> bool:
    """Source URLs and backend details are for a CONNECTION_ADMIN token; anyone else sees the status only."""
    authenticator = request.app.state.authenticator
    if authenticator is None:
        return request.app.state.default_actor.can(Permission.CONNECTION_ADMIN)
    header = request.headers.get("authorization")
    if not header:
        return False
    try:
        actor = await authenticator.actor(header)
    except (Unauthenticated, IdentityProviderUnavailable):
        return False
    return actor.can(Permission.CONNECTION_ADMIN)
