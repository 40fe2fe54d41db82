"""Liveness and readiness: the database and every source, reachable or not; details for administrators only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from datasources.errors import SourceError
from domain.permissions import Permission
from gateway.auth import IdentityProviderUnavailable, Unauthenticated
from resolvers.context import Services


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


async def _probe(check: Awaitable[None]) -> dict:
    try:
        await asyncio.wait_for(check, timeout=3)
        return {"reachable": True}
    except SourceError as exc:
        return {"reachable": False, "error": exc.reason}
    except Exception as exc:  # noqa: BLE001 - readiness reports every kind of failure
        return {"reachable": False, "error": type(exc).__name__}


async def _check(services: Services) -> dict:
    """The database and every source, each probed with a real round trip."""
    store = services.store

    async def db() -> None:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    rows = await store.connections(enabled_only=True)
    targets = services.probes.targets(rows) if services.probes else []
    checks = await asyncio.gather(_probe(db()), *(_probe(t.probe()) for t in targets))
    sources = [{"name": t.source, "url": t.base_url, **check, **t.state()}
               for t, check in zip(targets, checks[1:], strict=True)]
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
