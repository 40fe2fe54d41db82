"""The CTMS stand-in's `create_app`: a vault seeded from a world, behind the knobs and Vault's burst limit."""

from __future__ import annotations

from datetime import date

from starlette.applications import Starlette
from starlette.middleware import Middleware

from emulators.knobs import Knobs
from emulators.seed import World, build_world
from emulators.standin import build_app

from .errors import ApiError, api_error
from .limits import BurstMiddleware, BurstWindow
from .routes import routes
from .sessions import Sessions
from .store import Store
from .vault import Vault

__all__ = ["create_app"]


def create_app(world: World | None = None, *, knobs: Knobs | None = None, db_url: str = "sqlite://",
               today: date | None = None, session_idle_s: float = 1800.0, burst_limit: int | None = None,
               burst_window_s: float = 300.0, burst_delay_ms: float = 500.0,
               auth_burst_limit: int | None = None) -> Starlette:
    """The CTMS stand-in; an empty database is filled from `world` (or `build_world(today=today)`)."""
    knobs = knobs or Knobs()
    store = Store(db_url)
    if store.is_empty():
        store.load(world or build_world(today=today))
    vault = Vault(store, Sessions(session_idle_s))
    # The knobs' rate limit, once set, replaces the burst limit the vault was started with.
    window = BurstWindow(lambda: burst_limit if knobs.rate_limit is None else knobs.rate_limit,
                         lambda: burst_window_s if knobs.rate_limit is None else knobs.rate_window_s)
    limits = Middleware(BurstMiddleware, window=window, delay_ms=lambda: burst_delay_ms,
                        auth_limit=auth_burst_limit)
    return build_app(routes(), knobs=knobs, limits=limits, errors={ApiError: api_error}, vault=vault)
