"""The GraphiQL IDE, served offline: our own page and the npm assets from `node_modules/`, never a CDN.

strawberry's bundled GraphiQL page loads React and GraphiQL from unpkg, so without internet it never renders.
Here GraphiQL 3.8 (its UMD bundle, which already contains graphql-js and CodeMirror) and React 18's UMD builds
come from the npm registry into the ignored `node_modules/` (`make install` runs `npm ci`; versions are pinned
in `package.json` / `package-lock.json`) and the gateway serves a whitelist of four files from there. The page
itself is gateway/static/graphiql.html; its script (graphiql.js, with the sign-in of auth.js) and stylesheet are
served at /static by `gateway.pages.page_routes`.

Wiring it into the gateway::

    from gateway.graphiql import GraphiQLFront, graphiql_routes
    from gateway.pages import page_routes

    graphql_app = GatewayGraphQL(...)
    app = Starlette(routes=[
        *page_routes(settings),  # /static, /auth/config, /page-config.json
        *graphiql_routes("/graphql", issuer=settings.oidc_issuer),  # the assets, and the page at /graphiql-assets/
        # a browser opening /graphql gets the IDE (never reaching strawberry), API clients get the API
        Route("/graphql", GraphiQLFront(graphql_app, "/graphql", issuer=settings.oidc_issuer),
              methods=["GET", "POST"]),
    ])

Code that routes GET /graphql itself can use `wants_graphiql(request)` (the same test strawberry applies:
GET, no `query` parameter, Accept naming text/html) and answer with `graphiql_response(...)`.

Without `node_modules/` the page answers 503 with a short HTML message telling to run `make install`.
"""

from __future__ import annotations

import html
from collections.abc import Container
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.pages import page_headers, page_text

__all__ = [
    "ASSETS",
    "DEFAULT_ASSET_PREFIX",
    "NODE_MODULES",
    "GraphiQLFront",
    "graphiql_html",
    "graphiql_response",
    "graphiql_routes",
    "graphql_params",
    "missing_assets",
    "wants_graphiql",
]

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
DEFAULT_ASSET_PREFIX = "/graphiql-assets"

# URL name -> path under node_modules. Only these files are ever served.
ASSETS: dict[str, str] = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
}

_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

_WELCOME = """\
# GraphiQL: write a query here and run it with Ctrl-Enter or the play button.
# Ctrl-Space completes field names; the Docs pane (top left) browses the schema.

{ __typename }
"""


def missing_assets(node_modules: Path | None = None) -> list[str]:
    """The whitelisted asset files absent from `node_modules` (empty when the IDE can render)."""
    root = node_modules or NODE_MODULES
    return [rel for rel in ASSETS.values() if not (root / rel).is_file()]


def graphiql_html(
    graphql_path: str,
    example_query: str | None = None,
    *,
    asset_prefix: str = DEFAULT_ASSET_PREFIX,
    node_modules: Path | None = None,
) -> str:
    """The IDE page querying `graphql_path`, its editor prefilled with `example_query`.

    When the assets are not installed, a page saying so (and to run `make install`) instead.
    """
    missing = missing_assets(node_modules)
    if missing:
        return Template(page_text("graphiql-missing.html")).substitute(
            where=html.escape(str(node_modules or NODE_MODULES)),
            missing=", ".join(f"<code>{html.escape(m)}</code>" for m in missing),
            graphql_path=html.escape(graphql_path),
        )
    # Everything the page's script needs rides in data- attributes: the page has no inline script.
    return Template(page_text("graphiql.html")).substitute(
        asset_prefix=html.escape(asset_prefix.rstrip("/")),
        graphql_path=html.escape(graphql_path),
        default_query=html.escape(example_query or _WELCOME),
    )


def graphiql_response(
    graphql_path: str,
    example_query: str | None = None,
    *,
    asset_prefix: str = DEFAULT_ASSET_PREFIX,
    node_modules: Path | None = None,
    issuer: str | None = None,
) -> HTMLResponse:
    """`graphiql_html` as a response: 200, or 503 when the assets are not installed.

    Its CSP is the timeline page's (never framed, scripts from this origin only, requests to this origin and the
    identity provider `issuer`) plus what GraphiQL's bundle needs for its styles and fonts."""
    status = 503 if missing_assets(node_modules) else 200
    page = graphiql_html(graphql_path, example_query, asset_prefix=asset_prefix, node_modules=node_modules)
    headers = {**page_headers(issuer, graphiql=True), "Cache-Control": "no-store"}
    return HTMLResponse(page, status_code=status, headers=headers)


def graphql_params(params: Container[str]) -> bool:
    """Whether a GET's parameters ask for an operation: a `query`, or only its hash (a persisted query)."""
    return "query" in params or "extensions" in params


def wants_graphiql(request: Request) -> bool:
    """True for a browser opening the endpoint: GET, no operation in the parameters, Accept naming text/html."""
    return (
        request.method == "GET"
        and not graphql_params(request.query_params)
        and "text/html" in request.headers.get("accept", "")
    )


class GraphiQLFront:
    """`app` (the GraphQL endpoint at `graphql_path`), except that a browser opening it gets the IDE.

    The page is answered here, before the GraphQL app: it carries no token (a navigation cannot), and the sign-in
    happens on the page itself."""

    def __init__(
        self,
        app: ASGIApp,
        graphql_path: str = "/graphql",
        example_query: str | None = None,
        *,
        asset_prefix: str = DEFAULT_ASSET_PREFIX,
        issuer: str | None = None,
    ) -> None:
        self.app = app
        self.graphql_path = graphql_path
        self.example_query = example_query
        self.asset_prefix = asset_prefix
        self.issuer = issuer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and wants_graphiql(Request(scope)):
            page = graphiql_response(self.graphql_path, self.example_query, asset_prefix=self.asset_prefix,
                                     issuer=self.issuer)
            await page(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def graphiql_routes(
    graphql_path: str = "/graphql",
    asset_prefix: str = DEFAULT_ASSET_PREFIX,
    *,
    example_query: str | None = None,
    node_modules: Path | None = None,
    issuer: str | None = None,
) -> list[BaseRoute]:
    """A Mount at `asset_prefix` serving the whitelisted assets and, at its root, the IDE for `graphql_path`."""
    root = node_modules or NODE_MODULES
    prefix = asset_prefix.rstrip("/")

    async def page(request: Request) -> Response:
        return graphiql_response(graphql_path, example_query, asset_prefix=prefix, node_modules=root, issuer=issuer)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        rel = ASSETS.get(name)
        if rel is None:
            return PlainTextResponse("Not Found", status_code=404)
        path = root / rel
        if not path.is_file():
            return PlainTextResponse(f"{rel} is not installed: run `make install`", status_code=503)
        return FileResponse(
            path,
            media_type=_MEDIA_TYPES[path.suffix],
            headers={"Cache-Control": "no-cache"},
        )

    return [
        Mount(
            prefix,
            routes=[Route("/", page, methods=["GET"]), Route("/{name}", asset, methods=["GET", "HEAD"])],
            name="graphiql",
        )
    ]
