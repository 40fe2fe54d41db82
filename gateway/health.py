"""Liveness and readiness: the database and every source, reachable or not."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from datasources.errors import SourceError, SourceUnavailable
from datasources.http import HttpBackend
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


async def readyz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    store, backends = services.store, services.backends

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
    orgs = [backends.org(r) for r in rows]
    checks = await asyncio.gather(_probe(db()), _probe(reach(backends.ctms, backends.ctms.login, "/api")),
                                  *(_probe(reach(o.client, o.client.token, "/services/data")) for o in orgs))
    sources = [{"name": "ctms", "url": backends.ctms.base_url, **checks[1],
                "burstRemaining": backends.ctms.burst_remaining, "responseDelayS": backends.ctms.response_delay_s}]
    sources += [{"name": o.source, "url": o.client.base_url, **c} for o, c in zip(orgs, checks[2:], strict=True)]
    ok = all(c["reachable"] for c in checks)
    body = {"status": "ready" if ok else "degraded", "database": checks[0], "sources": sources}
    return JSONResponse(body, status_code=200 if ok else 503)
