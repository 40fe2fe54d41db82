"""How the CTMS and CRM stand-ins are assembled: knobs first, then the system's rate limit, then its routes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from emulators.knobs import Knobs, KnobsMiddleware

__all__ = ["ErrorHandler", "build_app"]

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def build_app(routes: list[BaseRoute], *, knobs: Knobs | None, limits: Middleware,
              errors: Mapping[type[Exception], ErrorHandler], **state: Any) -> Starlette:
    """The app: knobs (latency, failures, outages, counts), the rate limit, the routes; signed-in checks are per route.

    `errors` renders the system's own error exceptions in its wire format; `state` lands on `app.state` next to
    `knobs` and `stats`.
    """
    knobs = knobs or Knobs()
    stats: Counter[str] = Counter()
    app = Starlette(routes=routes, exception_handlers=dict(errors),
                    middleware=[Middleware(KnobsMiddleware, knobs=knobs, stats=stats), limits])
    app.state.knobs = knobs
    app.state.stats = stats
    for name, value in state.items():
        setattr(app.state, name, value)
    return app
