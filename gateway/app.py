"""The gateway's Starlette application: /graphql, GraphiQL, health, and the lifespan of its services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from datasources.backends import Backends
from datasources.ctms.client import CtmsClient
from datasources.http import HttpSettings
from datasources.store.db import create_engine, migrate_async
from datasources.store.repo import Store
from gateway.auth import Authenticator, default_actor
from gateway.authentication import Authentication
from gateway.graphiql import GraphiQLFront, graphiql_routes
from gateway.graphql import EXAMPLE_QUERY, GatewayGraphQL
from gateway.health import Readiness, healthz
from gateway.limits import BodyLimit, RateLimit
from gateway.pages import issuer_origin, page_routes
from gateway.request_id import RequestId
from gateway.settings import Settings
from gateway.timeline_page import timeline_route
from resolvers.context import Services

log = logging.getLogger("ccgw")
# On shutdown, inline deliveries still running get this long to finish before they are cancelled.
INLINE_DRAIN_S = 10.0


def build_services(settings: Settings, secrets: Mapping[str, str] | None = None) -> Services:
    """The process-wide services; credentials come from `secrets` (default: the environment, read now, once)."""
    secrets = dict(os.environ) if secrets is None else secrets
    ctms = CtmsClient(settings.ctms_url, secrets.get(settings.ctms_username_env, ""),
                      secrets.get(settings.ctms_password_env, ""), version=settings.ctms_api_version,
                      settings=HttpSettings(timeout_s=settings.ctms_timeout_s))
    backends = Backends(ctms, crm_settings=HttpSettings(timeout_s=settings.crm_timeout_s), secrets=secrets)
    store = Store(create_engine(settings.database_url))
    return Services(backends, store, inline_delivery_s=settings.inline_delivery_s,
                    max_attempts=settings.max_attempts, crash_at=settings.crash_at,
                    introspection=settings.introspection)


def create_app(settings: Settings | None = None, secrets: Mapping[str, str] | None = None) -> Starlette:
    """The gateway; `secrets` holds the variables its credentials are read from (default: the environment)."""
    settings = settings or Settings.load()
    if settings.introspection not in ("admin", "open", "closed"):
        raise SystemExit(f"CCGW_INTROSPECTION must be admin, open or closed, not {settings.introspection!r}")
    if settings.oidc_issuer:
        try:
            issuer_origin(settings.oidc_issuer)
        except ValueError as exc:
            raise SystemExit(f"CCGW_OIDC_ISSUER: {exc}") from None
    authenticator = Authenticator(settings) if settings.oidc_issuer else None
    default = None if authenticator else default_actor(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await migrate_async(settings.database_url)
        services = build_services(settings, secrets)
        app.state.services = services
        worker_task = None
        if settings.worker:
            from gateway.worker import run_worker
            worker_task = asyncio.create_task(run_worker(services, settings))
        try:
            yield
        finally:
            await services.drain_inline(INLINE_DRAIN_S)
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker_task
            await services.backends.close()
            await services.store.engine.dispose()
            if authenticator is not None:
                await authenticator.close()

    if settings.federation:
        from schema.federation import schema as subgraph  # built only when served

        graphql = GatewayGraphQL(lambda request: request.app.state.services, subgraph)
    else:
        graphql = GatewayGraphQL(lambda request: request.app.state.services)

    app = Starlette(
        routes=[
            timeline_route(settings.oidc_issuer),  # the timeline page; it links to GraphiQL at /graphql
            *page_routes(settings),  # the pages' scripts and styles, /auth/config, /page-config.json
            Route("/graphql", GraphiQLFront(graphql, "/graphql", EXAMPLE_QUERY, issuer=settings.oidc_issuer),
                  methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", Readiness(settings.readyz_cache_s).endpoint),
            *graphiql_routes("/graphql", example_query=EXAMPLE_QUERY, issuer=settings.oidc_issuer),
        ],
        lifespan=lifespan,
        middleware=[Middleware(RequestId),  # outermost: every answer carries the id its errors and logs name
                    Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
                    Middleware(Authentication, authenticator=authenticator, default=default),
                    # After authentication: it counts per acting user.
                    Middleware(RateLimit, per_minute=settings.rate_limit_per_minute)],
    )
    app.state.authenticator = authenticator
    app.state.default_actor = default
    app.state.settings = settings
    return app
