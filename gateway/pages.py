"""What the browser pages share: their files in gateway/static, their security headers, and the settings they read."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from gateway.settings import Settings
from schema.enums import ActivityKind, ActivityStatus, Channel
from schema.root import schema

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

# One checkbox group per list of enum values in the `TimelineFilter` input: (checkbox name, TimelineFilter field,
# legend, enum). The values come from the schema's enums, so a new channel shows up on the page by itself. The page
# cannot ask GraphQL introspection for them (introspection is for admins only), so the gateway hands them out in
# /page-config.json, apart from /auth/config, which only says how to sign in.
TIMELINE_FILTERS = (
    ("kind", "kinds", "Kind", ActivityKind),
    ("status", "statuses", "Status", ActivityStatus),
    ("channel", "channels", "Channel", Channel),
)


@cache
def page_text(name: str) -> str:
    """A page (or page template) from gateway/static, read once."""
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def issuer_origin(issuer: str) -> str:
    """The scheme://host[:port] of the issuer, for the CSP's connect-src; ValueError when it is no web origin."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.username or parts.password or not _ORIGIN.match(origin):
        raise ValueError(f"oidc_issuer must be an http(s) URL without credentials, not {issuer!r}")
    return origin


def content_security_policy(issuer: str | None, *, graphiql: bool = False) -> str:
    """Scripts and styles from this origin only, requests to it and to the identity provider, never framed.

    GraphiQL needs more: its bundle adds <style> elements at runtime (its floating UI and dialogs) and its
    stylesheet carries its fonts as data: URLs."""
    connect = "'self'" + (f" {issuer_origin(issuer)}" if issuer else "")
    style = "'self' 'unsafe-inline'" if graphiql else "'self'"
    fonts = ["font-src data:"] if graphiql else []
    return "; ".join([
        "default-src 'none'", "script-src 'self'", f"style-src {style}", f"connect-src {connect}",
        "img-src 'self' data:", *fonts, "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ])


def page_headers(issuer: str | None, *, graphiql: bool = False) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(issuer, graphiql=graphiql),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


@cache
def _static_files() -> dict[str, Path]:
    return {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in MEDIA_TYPES and p.is_file()}


async def static_file(request: Request) -> Response:
    """One of the pages' scripts or stylesheets; nothing else under gateway/static (the HTML are templates)."""
    path = _static_files().get(request.path_params["name"])
    if path is None:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})


def auth_config(settings: Settings) -> dict[str, str | None]:
    """What a page needs to sign in: the issuer (None: the gateway wants no sign-in), the client, the audience."""
    return {"issuer": settings.oidc_issuer or None, "clientId": settings.oidc_client_id,
            "audience": settings.oidc_audience}


def page_config() -> dict[str, object]:
    """The filter groups of the timeline page, with the enum values the schema accepts; and whether the schema has
    subscriptions (`live`: the page then follows the person shown over a WebSocket)."""
    return {"live": schema.subscription is not None, "timelineFilters": [
        {"name": name, "field": field, "legend": legend, "values": [member.name for member in enum]}
        for name, field, legend, enum in TIMELINE_FILTERS
    ]}


def page_routes(settings: Settings) -> list[BaseRoute]:
    """The pages' static files at /static, the admin page at /admin, and the two anonymous JSON documents the pages
    read at start."""
    if settings.oidc_issuer:
        issuer_origin(settings.oidc_issuer)  # a malformed issuer fails at start, not on the first page view
    config = auth_config(settings)
    filters = page_config()
    headers = {"Cache-Control": "no-cache"}

    async def get_auth_config(request: Request) -> Response:
        return JSONResponse(config, headers=headers)

    async def get_page_config(request: Request) -> Response:
        return JSONResponse(filters, headers=headers)

    admin_headers = page_headers(settings.oidc_issuer)

    async def admin_page(request: Request) -> Response:  # data only for CONNECTION_ADMIN, through /graphql
        return HTMLResponse(page_text("admin.html"), headers=admin_headers)

    return [
        Route("/admin", admin_page, methods=["GET"]),
        Mount(STATIC_PREFIX, routes=[Route("/{name}", static_file, methods=["GET", "HEAD"])]),
        Route("/auth/config", get_auth_config, methods=["GET"]),
        Route("/page-config.json", get_page_config, methods=["GET"]),
    ]
