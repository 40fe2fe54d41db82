"""Credentials: read once when the gateway starts, never from the live environment per request; a connection's
change in the store is followed; the demo hands its credentials over without touching the process environment."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from datasources.store.db import migrate
from datasources.store.models import ConnectionRow
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS
from emulators.server import EmulatorServer
from gateway.app import build_services
from gateway.demo import configure, demo_secrets
from gateway.settings import Settings
from resolvers.context import Services


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def org() -> Iterator[SimpleNamespace]:
    """Log-in endpoints (a Salesforce token, a Vault session) that record the credentials each log-in sends."""
    logins: list[tuple[str, str]] = []

    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        logins.append((str(form.get("client_id")), str(form.get("client_secret"))))
        return JSONResponse({"access_token": f"token-{len(logins)}", "token_type": "Bearer"})

    async def session(request: Request) -> JSONResponse:
        form = await request.form()
        logins.append((str(form.get("username")), str(form.get("password"))))
        return JSONResponse({"responseStatus": "SUCCESS", "sessionId": f"session-{len(logins)}"})

    server = EmulatorServer(Starlette(routes=[Route("/services/oauth2/token", token, methods=["POST"]),
                                              Route("/api/v26.1/auth", session, methods=["POST"])]))
    server.start()
    try:
        yield SimpleNamespace(url=server.url, logins=logins)
    finally:
        server.stop()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    migrate(url)
    return url


@pytest.fixture
async def services(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Services]:
    monkeypatch.setenv("CCGW_TEST_ORG_ID", "id-at-start")
    monkeypatch.setenv("CCGW_TEST_OTHER_ID", "other-id")
    monkeypatch.setenv("CCGW_TEST_ORG_SECRET", "secret-at-start")
    built = build_services(Settings(database_url=database_url, ctms_url="http://127.0.0.1:9"))
    yield built
    await built.backends.close()
    await built.store.engine.dispose()


def _connection(url: str, client_id_env: str, name: str = "us") -> ConnectionRow:
    return ConnectionRow(name=name, crm_url=url, client_id_env=client_id_env, client_secret_env="CCGW_TEST_ORG_SECRET",
                         ctms_field="external_id__v", ctms_field_kind="STANDARD", crm_field="External_ID_vod__c",
                         crm_field_kind="STANDARD")


async def _log_in(services: Services, org: SimpleNamespace) -> tuple[str, str]:
    """Log the connection's client in, as a request now would, and return the credentials the org received."""
    services.forget_connections()
    [row] = await services.connections()
    await services.backends.crm_client(row).credential()
    return org.logins[-1]


async def test_the_environment_changing_after_start_changes_nothing(services: Services, org: SimpleNamespace,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await services.store.save_connection(_connection(org.url, "CCGW_TEST_ORG_ID"))
    assert await _log_in(services, org) == ("id-at-start", "secret-at-start")
    [row] = await services.connections()
    client = services.backends.crm_client(row)
    monkeypatch.setenv("CCGW_TEST_ORG_ID", "changed-later")
    monkeypatch.delenv("CCGW_TEST_ORG_SECRET")
    services.forget_connections()
    [row] = await services.connections()
    assert services.backends.crm_client(row) is client  # same credentials: the same client, its log-in kept


async def test_a_connection_changed_in_the_store_is_followed(services: Services, org: SimpleNamespace) -> None:
    await services.store.save_connection(_connection(org.url, "CCGW_TEST_ORG_ID"))
    assert await _log_in(services, org) == ("id-at-start", "secret-at-start")
    await services.store.save_connection(_connection(org.url, "CCGW_TEST_OTHER_ID"))
    assert await _log_in(services, org) == ("other-id", "secret-at-start")


async def test_the_ctms_credentials_are_read_at_start(database_url: str, org: SimpleNamespace,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCGW_CTMS_USERNAME", "ctms-user-at-start")
    monkeypatch.setenv("CCGW_CTMS_PASSWORD", "ctms-password-at-start")
    built = build_services(Settings(database_url=database_url, ctms_url=org.url))
    monkeypatch.setenv("CCGW_CTMS_USERNAME", "changed-later")
    try:
        await built.backends.ctms.credential()
        assert org.logins[-1] == ("ctms-user-at-start", "ctms-password-at-start")
    finally:
        await built.backends.close()
        await built.store.engine.dispose()


async def test_given_secrets_replace_the_environment(database_url: str, org: SimpleNamespace,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCGW_TEST_ORG_ID", "from-the-environment")
    given = {"CCGW_TEST_ORG_ID": "given-id", "CCGW_TEST_ORG_SECRET": "given-secret"}
    built = build_services(Settings(database_url=database_url, ctms_url="http://127.0.0.1:9"), given)
    try:
        await built.store.save_connection(_connection(org.url, "CCGW_TEST_ORG_ID"))
        assert await _log_in(built, org) == ("given-id", "given-secret")
    finally:
        await built.backends.close()
        await built.store.engine.dispose()


async def test_the_demo_passes_its_credentials_without_touching_the_environment(database_url: str,
                                                                                org: SimpleNamespace) -> None:
    before = dict(os.environ)
    await asyncio.to_thread(configure, database_url, {"us": org, "eu": org})  # type: ignore[arg-type]
    assert dict(os.environ) == before
    secrets = demo_secrets({"CCGW_CTMS_USERNAME": "someone-else"})
    assert secrets["CCGW_CTMS_USERNAME"] == "someone-else"  # the environment's CTMS user wins
    assert secrets["CCGW_CTMS_PASSWORD"] == CTMS_CREDENTIALS["password"]
    built = build_services(Settings(database_url=database_url, ctms_url="http://127.0.0.1:9"), secrets)
    try:
        for row in await built.connections():
            await built.backends.crm_client(row).credential()
            assert org.logins[-1] == (CRM_CREDENTIALS["client_id"], CRM_CREDENTIALS["client_secret"])
    finally:
        await built.backends.close()
        await built.store.engine.dispose()
