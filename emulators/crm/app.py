"""The CRM org stand-in's `create_app`: an org seeded from a world, behind the knobs and Salesforce's API usage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from starlette.applications import Starlette
from starlette.middleware import Middleware

from emulators.knobs import Knobs
from emulators.seed import ORG_INSTANCE, World, build_world, crm_jwt_keys, sf_id
from emulators.standin import build_app

from .cursors import Cursors
from .errors import ApiError, OAuthError, api_error, oauth_error
from .jwt_bearer import public_keys
from .limits import ApiUsage, LimitHeaderMiddleware
from .org import API_VERSION, Org
from .routes import routes
from .sessions import Sessions
from .store import MEMORY_URL, Store

__all__ = ["create_app"]


def create_app(org: str, world: World | None = None, *, knobs: Knobs | None = None, db_url: str = MEMORY_URL,
               today: date | None = None, token_ttl_s: float = 7200, daily_limit: int = 100000,
               api_version: str = API_VERSION, jwt_certificates: Sequence[str] | None = None) -> Starlette:
    """The org's stand-in; an empty database is filled from `world.crm[org]` (or a default world's). The demo
    connected app holds `jwt_certificates` (PEM certificates or public keys; default: the demo key pair's)."""
    knobs = knobs or Knobs()
    instance = ORG_INSTANCE.get(org) or org[:1].upper()
    store = Store(db_url, instance)
    if store.is_empty():
        world = world or build_world()
        store.load(world.crm.get(org, {}))
    org_id = sf_id("00D", instance, 1)
    usage = ApiUsage(knobs, daily_limit)
    state = Org(name=org, instance=instance, org_id=org_id, store=store, sessions=Sessions(org_id, token_ttl_s),
                usage=usage, cursors=Cursors(instance), today=today or (world.today if world else date.today()),
                api_version=api_version, jwt_keys=public_keys(
                    jwt_certificates if jwt_certificates is not None else [crm_jwt_keys().certificate]))
    return build_app(routes(), knobs=knobs, limits=Middleware(LimitHeaderMiddleware, usage=usage),
                     errors={ApiError: api_error, OAuthError: oauth_error}, org=state)
