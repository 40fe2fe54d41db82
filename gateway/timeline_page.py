"""The timeline page at `/`: gateway/static/timeline.html, its scripts (timeline.js and the modules it imports) and
stylesheet, under a strict CSP.

The page talks to `/graphql` on the same origin with the signed-in user's token (gateway/static/auth.js); data only
ever reaches the DOM through text nodes and attributes, never as markup.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway.pages import page_headers, page_text


def timeline_route(issuer: str | None) -> Route:
    """`GET /`: the page, allowed to reach this origin and the identity provider `issuer` (None: no sign-in)."""
    headers = page_headers(issuer)

    async def timeline_page(request: Request) -> HTMLResponse:
        return HTMLResponse(page_text("timeline.html"), headers=headers)

    return Route("/", timeline_page, methods=["GET"])
