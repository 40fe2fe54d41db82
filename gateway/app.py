"""The gateway's Starlette application: /graphql, GraphiQL, health, and the lifespan of its services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from datasources.backends import Backends
from datasources.ctms.client import CtmsClient
from datasources.http import HttpSettings
from datasources.store.db import create_engine, migrate_async
from datasources.store.repo import Store
from gateway.auth import default_actor
from gateway.graphiql import graphiql_routes
from gateway.graphql import EXAMPLE_QUERY, GatewayGraphQL
from gateway.health import healthz, readyz
from gateway.limits import BodyLimit
from gateway.settings import Settings
from gateway.timeline_page import timeline_page
from resolvers.context import Services

log = logging.getLogger("ccgw")


def build_services(settings: Settings) -> Services:
    ctms = CtmsClient(settings.ctms_url, os.environ.get(settings.ctms_username_env, ""),
                      os.environ.get(settings.ctms_password_env, ""), version=settings.ctms_api_version,
                      settings=HttpSettings(timeout_s=settings.ctms_timeout_s))
    backends = Backends(ctms, crm_settings=HttpSettings(timeout_s=settings.crm_timeout_s))
    store = Store(create_engine(settings.database_url))
    return Services(backends, store, inline_delivery_s=settings.inline_delivery_s,
                    max_attempts=settings.max_attempts, crash_at=settings.crash_at)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.load()
    actor = default_actor(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await migrate_async(settings.database_url)
        services = build_services(settings)
        app.state.services = services
        worker_task = None
        if settings.worker:
            from gateway.worker import run_worker
            worker_task = asyncio.create_task(run_worker(services, settings))
        try:
            yield
        finally:
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker_task
            await services.backends.close()
            await services.store.engine.dispose()

    graphql = GatewayGraphQL(lambda request: request.app.state.services)

    app = Starlette(
        routes=[
            Route("/", timeline_page),  # the timeline page; it links to GraphiQL at /graphql
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *graphiql_routes("/graphql", example_query=EXAMPLE_QUERY),
        ],
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit, max_bytes=settings.max_body_bytes)],
    )
    app.state.actor = actor
    app.state.settings = settings
    return app
