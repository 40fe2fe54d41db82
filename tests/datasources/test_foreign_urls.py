"""URLs a backend's reply names (a next page, the instance to call, a redirect) are followed only on that backend's own
origin: a reply pointing elsewhere is refused, and the other origin receives nothing, least of all our credentials."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from datasources.crm.client import CrmClient
from datasources.ctms.client import CtmsClient
from datasources.errors import SourceRejected
from datasources.http import HttpSettings
from emulators.server import EmulatorServer

# Each test starts and stops fake backends of its own (~0.4 s of waiting per test, nearly all of it the stops).
pytestmark = [pytest.mark.anyio, pytest.mark.slow]
CRM_QUERY = "/services/data/v66.0/query"
VAULT_QUERY = "/api/v26.1/query"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Backend:
    """What the fake backend answers: where its next page is, which instance its token names, whether it redirects."""

    next_url: str | None = None
    instance_url: str | None = None
    redirect_to: str | None = None
    seen: list[str] = field(default_factory=list)


def _salesforce(b: Backend) -> Starlette:
    async def token(request: Request) -> Response:
        body = {"access_token": "secret-token", "token_type": "Bearer"}
        if b.instance_url:
            body["instance_url"] = b.instance_url
        return JSONResponse(body)

    async def query(request: Request) -> Response:
        b.seen.append(request.url.path)
        if b.redirect_to:
            return RedirectResponse(b.redirect_to, status_code=302)
        return JSONResponse({"done": b.next_url is None, "nextRecordsUrl": b.next_url, "records": [{"Id": "1"}]})

    async def page2(request: Request) -> Response:
        b.seen.append(request.url.path)
        return JSONResponse({"done": True, "records": [{"Id": "2"}]})

    return Starlette(routes=[Route("/services/oauth2/token", token, methods=["POST"]),
                             Route(CRM_QUERY, query), Route(f"{CRM_QUERY}/page2", page2)])


def _vault(b: Backend) -> Starlette:
    async def auth(request: Request) -> Response:
        return JSONResponse({"responseStatus": "SUCCESS", "sessionId": "secret-session"})

    async def query(request: Request) -> Response:
        b.seen.append(request.url.path)
        details = {"next_page": b.next_url} if b.next_url else {}
        return JSONResponse({"responseStatus": "SUCCESS", "data": [{"id": "1"}], "responseDetails": details})

    async def page2(request: Request) -> Response:
        b.seen.append(request.url.path)
        return JSONResponse({"responseStatus": "SUCCESS", "data": [{"id": "2"}], "responseDetails": {}})

    return Starlette(routes=[Route("/api/v26.1/auth", auth, methods=["POST"]),
                             Route(VAULT_QUERY, query, methods=["POST"]),
                             Route(f"{VAULT_QUERY}/page2", page2, methods=["POST"])])


@pytest.fixture
def elsewhere() -> Iterator[tuple[EmulatorServer, list[dict]]]:
    """Another origin on loopback that records whatever reaches it."""
    received: list[dict] = []

    async def anything(request: Request) -> Response:
        received.append({"path": request.url.path, "headers": dict(request.headers)})
        return JSONResponse({"done": True, "records": [], "responseStatus": "SUCCESS", "data": []})

    server = EmulatorServer(Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])).start()
    yield server, received
    server.stop()


@pytest.fixture
def salesforce() -> Iterator[tuple[EmulatorServer, Backend]]:
    b = Backend()
    server = EmulatorServer(_salesforce(b)).start()
    yield server, b
    server.stop()


@pytest.fixture
def vault() -> Iterator[tuple[EmulatorServer, Backend]]:
    b = Backend()
    server = EmulatorServer(_vault(b)).start()
    yield server, b
    server.stop()


def _crm(server: EmulatorServer) -> CrmClient:
    return CrmClient("test", server.url, client_id="id", client_secret="secret", settings=HttpSettings(retries=0))


def _ctms(server: EmulatorServer) -> CtmsClient:
    return CtmsClient(server.url, "user", "password", settings=HttpSettings(retries=0))


@pytest.mark.parametrize("same_origin", [False, True], ids=["relative", "absolute-same-origin"])
async def test_salesforce_next_page_on_its_own_origin_is_followed(salesforce, same_origin: bool) -> None:
    server, b = salesforce
    b.next_url = (server.url if same_origin else "") + f"{CRM_QUERY}/page2"
    client = _crm(server)
    try:
        assert [r["Id"] for r in await client.query("SELECT Id FROM Account")] == ["1", "2"]
    finally:
        await client.close()
    assert b.seen == [CRM_QUERY, f"{CRM_QUERY}/page2"]


@pytest.mark.parametrize("form", ["absolute", "scheme-relative", "https"])
async def test_salesforce_next_page_on_another_origin_is_refused(salesforce, elsewhere, form: str) -> None:
    server, b = salesforce
    other, received = elsewhere
    host = other.url.removeprefix("http://")
    b.next_url = {"absolute": f"http://{host}", "scheme-relative": f"//{host}",
                  "https": f"https://{server.url.removeprefix('http://')}"}[form] + f"{CRM_QUERY}/page2"
    client = _crm(server)
    try:
        with pytest.raises(SourceRejected, match="unexpected redirect to another origin") as exc:
            await client.query("SELECT Id FROM Account")
    finally:
        await client.close()
    assert exc.value.source == "crm:test"
    assert received == [] and b.seen == [CRM_QUERY]


async def test_salesforce_instance_url_on_another_origin_is_refused(salesforce, elsewhere) -> None:
    server, b = salesforce
    other, received = elsewhere
    b.instance_url = other.url
    client = _crm(server)
    try:
        with pytest.raises(SourceRejected, match="unexpected redirect to another origin"):
            await client.query("SELECT Id FROM Account")
    finally:
        await client.close()
    assert received == [] and b.seen == []  # the token was never used, here or there


async def test_a_redirect_is_not_followed(salesforce, elsewhere) -> None:
    server, b = salesforce
    other, received = elsewhere
    b.redirect_to = f"{other.url}{CRM_QUERY}"
    client = _crm(server)
    try:
        with pytest.raises(SourceRejected, match="unexpected redirect") as exc:
            await client.query("SELECT Id FROM Account")
    finally:
        await client.close()
    assert exc.value.status == 302 and received == []


async def test_vault_next_page_on_its_own_origin_is_followed(vault) -> None:
    server, b = vault
    b.next_url = f"{VAULT_QUERY}/page2"
    client = _ctms(server)
    try:
        assert [r["id"] for r in await client.query("SELECT id FROM person__sys")] == ["1", "2"]
    finally:
        await client.close()


@pytest.mark.parametrize("next_page", ["{other}/api/v26.1/query/page2", "api/v26.1/query/page2",
                                       "@{host}/api/v26.1/query/page2"], ids=["other-origin", "no-slash", "userinfo"])
async def test_vault_next_page_elsewhere_is_refused(vault, elsewhere, next_page: str) -> None:
    server, b = vault
    other, received = elsewhere
    b.next_url = next_page.format(other=other.url, host=other.url.removeprefix("http://"))
    client = _ctms(server)
    try:
        with pytest.raises(SourceRejected, match="unexpected"):
            await client.query("SELECT id FROM person__sys")
    finally:
        await client.close()
    assert received == [] and b.seen == [VAULT_QUERY]
