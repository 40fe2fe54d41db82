"""The gateway as an ASGI app factory for other servers (`uvicorn --factory bench.asgi:app`, granian), logging as
`ccgw serve` does, so that every server measured by bench.servers does the same work per request."""

from __future__ import annotations

from starlette.applications import Starlette


def app() -> Starlette:
    from gateway.app import create_app
    from gateway.logs import configure_logging
    from gateway.settings import Settings

    settings = Settings.load()
    configure_logging(settings.log_format)
    return create_app(settings)
