"""The gateway's Starlette application: /graphql, GraphiQL, health, and the lifespan of its services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route, WebSocketRoute

from datasources.backends import Backends
from datasources.ctms.client import CtmsClient
from datasources.http import HttpSettings
from datasources.read_cache import ReadCache
from datasources.store.db import create_engine, migrate_async
from datasources.store.repo import Store
from domain.permissions import Actor
from gateway.auth import Authenticator, default_actor
from gateway.authentication import Authentication
from gateway.gc_tuning import freeze_startup_objects
from gateway.graphiql import GraphiQLFront, graphiql_routes
from gateway.graphql import EXAMPLE_QUERY, GatewayGraphQL
from gateway.health import Readiness, healthz
from gateway.limits import BodyLimit, RateLimit
from gateway.logs import formatter, stamp_request_ids
from gateway.metrics import install as install_metrics
from gateway.metrics_endpoint import MetricsEndpoint, parse_bind, serve_metrics
from gateway.pages import issuer_origin, page_routes
from gateway.persisted import PersistedQueries
from gateway.request_id import RequestId
from gateway.request_log import RequestLog
from gateway.settings import Settings
from gateway.subscriptions import SocketSettings, parse_origins
from gateway.timeline_page import timeline_route
from gateway.tracing import Tracing, tracing_from
from resolvers.context import Services
from resolvers.identifiers import start_keeping_identifiers

log = logging.getLogger("ccgw")
# On shutdown, inline deliveries still running get this long to finish before they are cancelled.
INLINE_DRAIN_S = 10.0


def build_services(settings: Settings, secrets: Mapping[str, str] | None = None,
                   tracing: Tracing | None = None) -> Services:
    """The process-wide services; credentials come from `secrets` (default: the environment, read now, once).
    Traced as `tracing` says (default: as the settings say)."""
    secrets = dict(os.environ) if secrets is None else secrets
    tracing = tracing or tracing_from(settings)
    install_metrics()
    ctms = CtmsClient(settings.ctms_url, secrets.get(settings.ctms_username_env, ""),
                      secrets.get(settings.ctms_password_env, ""), version=settings.ctms_api_version,
                      settings=HttpSettings(timeout_s=settings.ctms_timeout_s, call_tracer=tracing.call_tracer))
    backends = Backends(ctms, crm_settings=HttpSettings(timeout_s=settings.crm_timeout_s,
                                                        call_tracer=tracing.call_tracer), secrets=secrets)
    store = Store(create_engine(settings.database_url), tracing.tracer)
    reads = ReadCache(settings.read_cache_s, settings.read_cache_size) if settings.read_cache_s > 0 else None
    return Services(backends, store, probes=backends, tracer=tracing.tracer,
                    inline_delivery_s=settings.inline_delivery_s, max_attempts=settings.max_attempts,
                    crash_at=settings.crash_at, introspection=settings.introspection, reads=reads)


def create_app(settings: Settings | None = None, secrets: Mapping[str, str] | None = None,
               tracing: Tracing | None = None) -> Starlette:
    """The gateway; `secrets` holds the variables its credentials are read from (default: the environment).

    `tracing` (default: as the settings say, stopped with the app) is the caller's to stop when given."""
    settings = settings or Settings.load()
    _check_settings(settings)
    stamp_request_ids()  # log lines name the request they were written for
    tracing = tracing_from(settings) if tracing is None else replace(tracing, shutdown=lambda: None)
    authenticator = Authenticator(settings) if settings.oidc_issuer else None
    default = None if authenticator else default_actor(settings)
    app = Starlette(routes=_routes(settings), lifespan=_lifespan(settings, secrets, authenticator, tracing),
                    middleware=_middleware(settings, authenticator, default))
    app.state.authenticator = authenticator
    app.state.default_actor = default
    app.state.settings = settings
    return app


def _check_settings(settings: Settings) -> None:
    """Refuse to start with settings that cannot work, naming the variable."""
    if settings.introspection not in ("admin", "open", "closed"):
        raise SystemExit(f"CCGW_INTROSPECTION must be admin, open or closed, not {settings.introspection!r}")
    if settings.oidc_issuer:
        try:
            issuer_origin(settings.oidc_issuer)
        except ValueError as exc:
            raise SystemExit(f"CCGW_OIDC_ISSUER: {exc}") from None
    formatter(settings.log_format)
    if settings.metrics_bind:
        parse_bind(settings.metrics_bind)
    try:
        parse_origins(settings.ws_allowed_origins)
    except ValueError as exc:
        raise SystemExit(f"CCGW_WS_ALLOWED_ORIGINS: {exc}") from None


def _lifespan(settings: Settings, secrets: Mapping[str, str] | None, authenticator: Authenticator | None,
              tracing: Tracing) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Start-up (migrations, the services, the worker) and shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await migrate_async(settings.database_url)
        services = build_services(settings, secrets, tracing)
        app.state.services = services
        metrics_server = serve_metrics(settings.metrics_bind, services.store)
        worker_task = None
        if settings.worker:
            from gateway.worker import run_worker
            worker_task = asyncio.create_task(run_worker(services, settings))
        identifiers_task = await start_keeping_identifiers(services, settings.identifiers_refresh_s)
        if services.reads is not None:
            await services.reads.watch(services.store.events)
        freeze_startup_objects()
        try:
            yield
        finally:
            if identifiers_task is not None:
                identifiers_task.cancel()
            if metrics_server is not None:
                metrics_server.close()
            await _shut_down(services, worker_task, authenticator)
            await asyncio.to_thread(tracing.shutdown)  # the spans still buffered are exported (bounded)

    return lifespan


async def _shut_down(services: Services, worker_task: asyncio.Task[None] | None,
                     authenticator: Authenticator | None) -> None:
    """Let inline deliveries finish (bounded), stop the worker, then close the clients and the database."""
    await services.drain_inline(INLINE_DRAIN_S)
    if worker_task is not None:
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker_task
    await services.backends.close()
    await services.store.events.close()
    await services.store.engine.dispose()
    if authenticator is not None:
        await authenticator.close()


def _routes(settings: Settings) -> list[BaseRoute]:
    """The timeline page and its assets, /graphql with GraphiQL, and the health endpoints."""
    sockets = SocketSettings.of(settings)
    persisted = PersistedQueries(settings.persisted_queries)
    if settings.federation:
        from schema.federation import schema as subgraph  # built only when served

        graphql = GatewayGraphQL(lambda request: request.app.state.services, subgraph, sockets, persisted)
    else:
        graphql = GatewayGraphQL(lambda request: request.app.state.services, sockets=sockets, persisted=persisted)
    return [
        timeline_route(settings.oidc_issuer),  # the timeline page; it links to GraphiQL at /graphql
        *page_routes(settings),  # the pages' scripts and styles, /auth/config, /page-config.json
        Route("/graphql", GraphiQLFront(graphql, "/graphql", EXAMPLE_QUERY, issuer=settings.oidc_issuer),
              methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),  # subscriptions (gateway.subscriptions)
        Route("/healthz", healthz),
        Route("/readyz", Readiness(settings.readyz_cache_s).endpoint),
        Route("/metrics", MetricsEndpoint()),  # for a CONNECTION_ADMIN token (see Authentication's paths)
        *graphiql_routes("/graphql", example_query=EXAMPLE_QUERY, issuer=settings.oidc_issuer),
    ]


def _middleware(settings: Settings, authenticator: Authenticator | None, default: Actor | None) -> list[Middleware]:
    """Outermost first: request ids, the body limit, authentication, then the per-user rate limit."""
    return [Middleware(RequestId),  # outermost: every answer carries the id its errors and logs name
            Middleware(RequestLog),  # metrics and the log line of every request, refusals included
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(Authentication, authenticator=authenticator, default=default, paths=("/graphql", "/metrics")),
            # After authentication: it counts per acting user.
            Middleware(RateLimit, per_minute=settings.rate_limit_per_minute)]
