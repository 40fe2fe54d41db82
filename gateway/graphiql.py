"""The GraphiQL IDE, served offline: our own page and the npm assets from `node_modules/`, never a CDN.

strawberry's bundled GraphiQL page loads React and GraphiQL from unpkg, so without internet it never renders.
Here GraphiQL 3.8 (its UMD bundle, which already contains graphql-js and CodeMirror) and React 18's UMD builds
come from the npm registry into the ignored `node_modules/` (`make install` runs `npm ci`; versions are pinned
in `package.json` / `package-lock.json`) and the gateway serves a whitelist of four files from there.

Wiring it into the gateway::

    from strawberry.asgi import GraphQL
    from gateway.graphiql import graphiql_response, graphiql_routes

    class GatewayGraphQL(GraphQL):
        async def render_graphql_ide(self, request):  # strawberry calls this for GET + Accept: text/html
            return graphiql_response("/graphql", example_query="{ __typename }")

    graphql_app = GatewayGraphQL(schema)  # keep the default graphql_ide="graphiql": it switches the IDE on
    app = Starlette(routes=[
        *graphiql_routes("/graphql"),  # the assets, plus the page itself at /graphiql-assets/
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql_app),
    ])

Code that routes GET /graphql itself can use `wants_graphiql(request)` (the same test strawberry applies:
GET, no `query` parameter, Accept naming text/html) and answer with `graphiql_response(...)`.

Without `node_modules/` the page answers 503 with a short HTML message telling to run `make install`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

__all__ = [
    "ASSETS",
    "DEFAULT_ASSET_PREFIX",
    "NODE_MODULES",
    "graphiql_html",
    "graphiql_response",
    "graphiql_routes",
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

_PAGE = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>GraphiQL</title>
  <link rel="icon" href="data:,">
  <style>
    html, body {{ height: 100%; margin: 0; overflow: hidden; }}
    #graphiql {{ height: 100vh; }}
  </style>
  <link rel="stylesheet" href="{prefix}/graphiql.min.css">
  <script src="{prefix}/react.production.min.js"></script>
  <script src="{prefix}/react-dom.production.min.js"></script>
  <script src="{prefix}/graphiql.min.js"></script>
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script>
    const config = {config};
    const url = new URL(config.graphqlPath, window.location.href);
    const subscriptionUrl = new URL(url);
    subscriptionUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const fetcher = GraphiQL.createFetcher({{ url: url.href, subscriptionUrl: subscriptionUrl.href }});
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher: fetcher,
        defaultQuery: config.defaultQuery,
        defaultEditorToolsVisibility: true,
        isHeadersEditorEnabled: true,
        inputValueDeprecation: true,
      }})
    );
  </script>
</body>
</html>
"""

_MISSING_PAGE = """\
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>GraphiQL: assets missing</title></head>
<body>
  <h1>GraphiQL assets are missing</h1>
  <p>The IDE's JavaScript and CSS come from the npm packages in <code>{where}</code>, which is not installed
  (missing: {missing}). Run <code>make install</code> (it runs <code>npm ci</code>) and reload.</p>
  <p>The GraphQL endpoint <code>{graphql_path}</code> itself works without them: POST queries to it.</p>
</body>
</html>
"""


def missing_assets(node_modules: Path | None = None) -> list[str]:
    """The whitelisted asset files absent from `node_modules` (empty when the IDE can render)."""
    root = node_modules or NODE_MODULES
    return [rel for rel in ASSETS.values() if not (root / rel).is_file()]


def _script_json(value: object) -> str:
    # JSON inside <script>: keep "</script>" and "<!--" from ending or confusing the element.
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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
        return _MISSING_PAGE.format(
            where=html.escape(str(node_modules or NODE_MODULES)),
            missing=", ".join(f"<code>{html.escape(m)}</code>" for m in missing),
            graphql_path=html.escape(graphql_path),
        )
    config = {"graphqlPath": graphql_path, "defaultQuery": example_query or _WELCOME}
    return _PAGE.format(prefix=html.escape(asset_prefix.rstrip("/")), config=_script_json(config))


def graphiql_response(
    graphql_path: str,
    example_query: str | None = None,
    *,
    asset_prefix: str = DEFAULT_ASSET_PREFIX,
    node_modules: Path | None = None,
) -> HTMLResponse:
    """`graphiql_html` as a response: 200, or 503 when the assets are not installed."""
    status = 503 if missing_assets(node_modules) else 200
    page = graphiql_html(graphql_path, example_query, asset_prefix=asset_prefix, node_modules=node_modules)
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def wants_graphiql(request: Request) -> bool:
    """True for a browser opening the endpoint: GET, no `query` parameter, Accept naming text/html."""
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and "text/html" in request.headers.get("accept", "")
    )


def graphiql_routes(
    graphql_path: str = "/graphql",
    asset_prefix: str = DEFAULT_ASSET_PREFIX,
    *,
    example_query: str | None = None,
    node_modules: Path | None = None,
) -> list[BaseRoute]:
    """A Mount at `asset_prefix` serving the whitelisted assets and, at its root, the IDE for `graphql_path`."""
    root = node_modules or NODE_MODULES
    prefix = asset_prefix.rstrip("/")

    async def page(request: Request) -> Response:
        return graphiql_response(graphql_path, example_query, asset_prefix=prefix, node_modules=root)

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
