"""A stand-in for a Salesforce REST API org (Veeva CRM): OAuth, SOQL, sObjects, collections, describe, polling."""

from __future__ import annotations

from collections import Counter
from datetime import date

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ..knobs import Knobs, KnobsMiddleware
from ..seed import ORG_INSTANCE, World, build_world, sf_id
from .app import LimitHeaderMiddleware, Org, api_error, routes
from .auth import Auth
from .cursors import Cursors
from .errors import ApiError
from .limits import ApiUsage
from .store import MEMORY_URL, Store

__all__ = ["create_app", "MEMORY_URL"]


def create_app(org: str, world: World | None = None, *, knobs: Knobs | None = None, db_url: str = MEMORY_URL,
               token_ttl_s: float = 7200, daily_limit: int = 100000, api_version: str = "66.0",
               today: date | None = None) -> Starlette:
    """Build the org's app; an empty database is loaded with `world.crm[org]` (a default world when None)."""
    instance = ORG_INSTANCE.get(org) or org[:1].upper()
    store = Store(db_url, instance)
    if store.empty():
        world = world or build_world()
        store.load(world.crm.get(org, {}))
    knobs = knobs or Knobs()
    stats: Counter[str] = Counter()
    usage = ApiUsage(knobs, daily_limit)
    org_id = sf_id("00D", instance, 1)
    state = Org(name=org, instance=instance, org_id=org_id, store=store, auth=Auth(store, org_id, token_ttl_s),
                usage=usage, cursors=Cursors(instance), today=today or (world.today if world else date.today()),
                api_version=api_version)
    app = Starlette(routes=routes(), exception_handlers={ApiError: api_error},
                    middleware=[Middleware(KnobsMiddleware, knobs=knobs, stats=stats),
                                Middleware(LimitHeaderMiddleware, usage=usage)])
    app.state.org = state
    app.state.knobs = knobs
    app.state.stats = stats
    return app
