"""The offline GraphiQL page: a real headless chromium opens GraphiQL served by the real gateway (over the stand-ins
on loopback), signs in through the identity provider and runs a query with the token; plus the asset whitelist,
content negotiation and the page's CSP on a tiny app."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request as UrlRequest
from urllib.request import urlopen

import httpx
import pytest
import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from gateway.graphiql import GraphiQLFront, graphiql_response, graphiql_routes, missing_assets, wants_graphiql
from gateway.pages import page_routes
from gateway.settings import Settings
from tests.browser import TIMEOUT_MS, offline_page


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


class OfflineGraphQL(GraphQL):
    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_response("/graphql", example_query="{ __typename }")


def make_app(node_modules: Path | None = None, issuer: str | None = None) -> Starlette:
    graphql_app = OfflineGraphQL(strawberry.Schema(query=Query))
    return Starlette(
        routes=[
            *page_routes(Settings(oidc_issuer=issuer)),
            *graphiql_routes("/graphql", node_modules=node_modules, issuer=issuer),
            Route("/graphql", GraphiQLFront(graphql_app, "/graphql", issuer=issuer), methods=["GET", "POST"]),
        ]
    )


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def fetch(url: str, accept: str = "*/*", body: dict | None = None) -> tuple[int, str, str]:
    """(status, content type, text) of a GET, or a JSON POST when `body` is given."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": accept, "Content-Type": "application/json"}
    try:
        with urlopen(UrlRequest(url, data=data, headers=headers), timeout=10) as response:
            return response.status, response.headers["content-type"], response.read().decode()
    except HTTPError as error:
        return error.code, error.headers["content-type"], error.read().decode()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(make_app()) as url:
        yield url


@pytest.mark.browser
def test_graphiql_signs_in_and_runs_a_query_in_chromium(stack) -> None:  # noqa: ANN001 - the shared e2e fixture
    if missing_assets():
        pytest.fail("GraphiQL assets missing from node_modules: run `make install`")
    from playwright.sync_api import expect

    from tests.gateway.test_sign_in_browser import sign_in

    with offline_page() as browser:
        page = browser.page
        sent: list[str | None] = []
        page.on("request", lambda r: sent.append(r.headers.get("authorization"))
                if r.method == "POST" and r.url == f"{stack.url}/graphql" else None)
        page.goto(f"{stack.url}/graphql")  # a browser's Accept includes text/html: the gateway serves the IDE
        # Before signing in: the button, and no IDE asking the API anything.
        expect(page.locator("#graphiql")).to_contain_text("Sign in to use GraphiQL")
        assert page.locator(".graphiql-query-editor").count() == 0 and sent == []
        sign_in(page, expect, "Clara Oswald")
        assert page.url == f"{stack.url}/graphql"

        # The real CodeMirror editor, not the empty #graphiql container, prefilled with the gateway's example.
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        expect(editor).to_be_visible(timeout=TIMEOUT_MS)
        expect(editor).to_contain_text("timeline", timeout=TIMEOUT_MS)

        editor.click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.press("Backspace")
        query = '{ viewer { name } people(first: 1) { edges { node { ctmsId lastName } } } }'
        page.keyboard.insert_text(query)  # no key events: CodeMirror's bracket auto-closing stays out
        expect(editor.locator(".CodeMirror-line")).to_have_text([query], timeout=TIMEOUT_MS)

        # GraphiQL re-reads the operation name from the editor after a short debounce; running before it would
        # send the example's name ("Timeline") with the new text.
        page.wait_for_timeout(600)
        page.locator("button.graphiql-execute-button").click()
        result = page.locator(".graphiql-response .CodeMirror")
        # Data from the gateway itself, as the signed-in user, and from the CTMS stand-in behind it.
        expect(result).to_contain_text('"Clara Oswald"', timeout=TIMEOUT_MS)
        expect(result).to_contain_text('"0PE000000000001"', timeout=TIMEOUT_MS)
        expect(result).not_to_contain_text('"errors"')
        assert sent and all(h and h.startswith("Bearer ") for h in sent), "every request carried the token"
    # GraphiQL's own bundle logs a harmless console error (react-remove-scroll-bar); none may be a CSP refusal.
    browser.assert_clean(console=False)
    assert not [e for e in browser.console_errors if "Content Security Policy" in e], browser.console_errors


def test_page_without_node_modules_says_make_install(tmp_path: Path) -> None:
    with serve(make_app(node_modules=tmp_path / "node_modules")) as url:
        status, _, text = fetch(f"{url}/graphiql-assets/", accept="text/html")
        assert status == 503
        assert "make install" in text
        status, _, text = fetch(f"{url}/graphiql-assets/graphiql.min.js")
        assert status == 503
        assert "make install" in text


def test_only_whitelisted_files_are_served(base_url: str) -> None:
    for path in ("/graphiql-assets/package.json", "/graphiql-assets/..%2Fpackage.json", "/graphiql-assets/x/y.js"):
        assert fetch(base_url + path)[0] == 404, path
    if missing_assets():
        pytest.skip("node_modules not installed: run `make install`")
    status, content_type, _ = fetch(f"{base_url}/graphiql-assets/graphiql.min.js")
    assert status == 200
    assert content_type.startswith("text/javascript")


def test_browser_get_gets_the_ide_and_api_clients_get_json(base_url: str) -> None:
    _, content_type, page = fetch(f"{base_url}/graphql", accept="text/html,application/xhtml+xml")
    assert content_type.startswith("text/html")
    assert "/graphiql-assets/graphiql.min.js" in page
    assert "unpkg" not in page and "https://" not in page
    assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", page)), "no inline script"
    assert "<style" not in page
    _, _, answer = fetch(f"{base_url}/graphql", accept="application/json", body={"query": "{ hello }"})
    assert json.loads(answer) == {"data": {"hello": "world"}}


def test_the_ide_page_has_the_timeline_page_csp_and_may_reach_the_identity_provider() -> None:
    if missing_assets():
        pytest.skip("node_modules not installed: run `make install`")
    with serve(make_app(issuer="http://127.0.0.1:8301")) as url:
        answers = [httpx.get(url + path, headers={"Accept": "text/html"}) for path in ("/graphql", "/graphiql-assets/")]
    for r in answers:
        assert r.status_code == 200
        csp = dict(part.strip().split(" ", 1) for part in r.headers["content-security-policy"].split(";"))
        assert csp["frame-ancestors"] == "'none'" and csp["default-src"] == "'none'"
        assert csp["script-src"] == "'self'", "no inline script, no eval"
        assert csp["connect-src"] == "'self' http://127.0.0.1:8301"
        assert csp["form-action"] == "'none'" and csp["base-uri"] == "'none'"
        # Only what GraphiQL's bundle needs beyond the timeline page's: its runtime <style> elements, its data: fonts.
        assert csp["style-src"] == "'self' 'unsafe-inline'" and csp["font-src"] == "data:"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_wants_graphiql() -> None:
    def request(method: str, accept: str, query: str = "") -> Request:
        headers = [(b"accept", accept.encode())]
        scope = {"type": "http", "method": method, "headers": headers, "query_string": query.encode()}
        return Request(scope)

    assert wants_graphiql(request("GET", "text/html,*/*;q=0.8"))
    assert not wants_graphiql(request("GET", "application/json"))
    assert not wants_graphiql(request("POST", "text/html"))
    assert not wants_graphiql(request("GET", "text/html", "query=%7Bhello%7D"))
