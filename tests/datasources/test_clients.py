"""The Vault and Salesforce clients against the stand-ins: re-login on expiry, paging, burst pacing, typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from datasources.crm.client import CrmClient
from datasources.ctms.client import CtmsClient
from datasources.errors import SourceRejected, SourceUnavailable
from datasources.http import HttpSettings, delay_header_s
from datasources.query import Cmp, Select
from emulators import crm, ctms
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, build_world
from emulators.server import EmulatorServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def world():  # noqa: ANN201
    return build_world(40)


@pytest.fixture(scope="module")
def vault(world) -> Iterator[EmulatorServer]:  # noqa: ANN001
    server = EmulatorServer(ctms.create_app(world, session_idle_s=0.3, burst_limit=1000, burst_delay_ms=50)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def org(world) -> Iterator[EmulatorServer]:  # noqa: ANN001
    server = EmulatorServer(crm.create_app("us", world, token_ttl_s=0.3)).start()
    yield server
    server.stop()


def _vault_client(server: EmulatorServer, password: str = CTMS_CREDENTIALS["password"]) -> CtmsClient:
    return CtmsClient(server.url, CTMS_CREDENTIALS["username"], password, settings=HttpSettings(retries=0))


@pytest.mark.slow  # waits for real time to pass (a session expiring)
async def test_vault_session_expiry_logs_in_again_once(vault: EmulatorServer) -> None:
    client = _vault_client(vault)
    try:
        first = await client.query(Select("person__sys", ["id"]).filter(Cmp("id", "=", "0PE000000000001")))
        old_session = await client.login()
        await asyncio.sleep(0.5)  # longer than the stand-in's idle timeout
        again = await client.query(Select("person__sys", ["id"]).filter(Cmp("id", "=", "0PE000000000001")))
        assert first == again == [{"id": "0PE000000000001"}]
        assert await client.login() != old_session
    finally:
        await client.close()


async def test_vault_paging_follows_next_page_to_the_end(vault: EmulatorServer, world) -> None:  # noqa: ANN001
    client = _vault_client(vault)
    try:
        records = await client.query("SELECT id FROM crm_activity__v PAGESIZE 25")
        assert len(records) == len(world.ctms["crm_activity__v"]) > 25
        assert len({r["id"] for r in records}) == len(records)
    finally:
        await client.close()


async def test_vault_bad_credentials_and_bad_query_are_typed(vault: EmulatorServer) -> None:
    client = _vault_client(vault, password="wrong")
    with pytest.raises(SourceRejected, match="login failed") as exc:
        await client.query("SELECT id FROM person__sys")
    assert exc.value.source == "ctms" and exc.value.code == "USERNAME_OR_PASSWORD_INCORRECT"
    await client.close()
    client = _vault_client(vault)
    with pytest.raises(SourceRejected) as exc:
        await client.query("SELECT nope__v FROM person__sys")
    assert exc.value.code in ("INVALID_DATA", "INVALID_FIELD")
    await client.close()


async def test_vault_burst_budget_is_noted_for_pacing() -> None:
    server = EmulatorServer(ctms.create_app(build_world(5), burst_limit=2, burst_delay_ms=40)).start()
    client = _vault_client(server)
    try:
        for _ in range(3):
            await client.query("SELECT id FROM person__sys")
        assert client.burst_remaining == 0 and client.response_delay_s == pytest.approx(0.04)
    finally:
        await client.close()
        server.stop()


@pytest.mark.slow  # waits for real time to pass (a token expiring)
async def test_salesforce_token_expiry_renews_once_and_pages(org: EmulatorServer, world) -> None:  # noqa: ANN001
    client = CrmClient("us", org.url, client_id=CRM_CREDENTIALS["client_id"],
                       client_secret=CRM_CREDENTIALS["client_secret"], settings=HttpSettings(retries=0))
    try:
        accounts = await client.query("SELECT Id FROM Account")
        assert len(accounts) == len(world.crm["us"]["Account"])
        await asyncio.sleep(0.5)  # longer than the stand-in's token lifetime
        again = await client.query(Select("Account", ["Id", "Name"]).filter(Cmp("Id", "=", accounts[0]["Id"])))
        assert again[0]["Id"] == accounts[0]["Id"]
    finally:
        await client.close()


async def test_salesforce_errors_say_which_org_and_why(org: EmulatorServer) -> None:
    client = CrmClient("us", org.url, client_id="nobody", client_secret="x", settings=HttpSettings(retries=0))
    with pytest.raises(SourceRejected, match="login failed") as exc:
        await client.query("SELECT Id FROM Account")
    assert exc.value.source == "crm:us"
    await client.close()
    down = CrmClient("gone", "http://127.0.0.1:9", client_id="a", client_secret="b",
                     settings=HttpSettings(retries=1, backoff_s=0.01))
    with pytest.raises(SourceUnavailable, match="crm:gone: unreachable"):
        await down.query("SELECT Id FROM Account")
    await down.close()


def _org_client(server: EmulatorServer, version: str = "66.0") -> CrmClient:
    return CrmClient("us", server.url, client_id=CRM_CREDENTIALS["client_id"],
                     client_secret=CRM_CREDENTIALS["client_secret"], version=version, settings=HttpSettings(retries=0))


COMPOSITE, QUERY = "POST /services/data/v{}/composite", "GET /services/data/v{}/query"


async def test_salesforce_queries_of_one_tick_go_in_one_composite_call(org: EmulatorServer, stats: Callable,
                                                                       reset_stats: Callable) -> None:
    client = _org_client(org)
    try:
        alone = [await client.query(f"SELECT Id, Name FROM Account ORDER BY Id LIMIT {n}") for n in (1, 2, 3)]
        reset_stats(org)
        together = await asyncio.gather(*(client.query(f"SELECT Id, Name FROM Account ORDER BY Id LIMIT {n}")
                                          for n in (1, 2, 3)))
        assert together == alone and [len(r) for r in together] == [1, 2, 3]
        counts = stats(org)
        assert counts.get(COMPOSITE.format("66.0")) == 1 and QUERY.format("66.0") not in counts
        reset_stats(org)
        await asyncio.gather(*(client.query("SELECT Id FROM Account LIMIT 1") for _ in range(7)))
        assert stats(org).get(COMPOSITE.format("66.0")) == 2  # five queries per call at most
    finally:
        await client.close()


async def test_salesforce_a_refused_query_fails_only_its_caller(org: EmulatorServer) -> None:
    client = _org_client(org)
    try:
        good, bad = await asyncio.gather(client.query("SELECT Id FROM Account LIMIT 2"),
                                         client.query("SELECT Nope FROM Account"), return_exceptions=True)
        assert len(good) == 2
        assert isinstance(bad, SourceRejected) and bad.code == "INVALID_FIELD" and bad.source == "crm:us"
    finally:
        await client.close()


async def test_salesforce_composite_failure_reaches_every_caller() -> None:
    down = CrmClient("gone", "http://127.0.0.1:9", client_id="a", client_secret="b",
                     settings=HttpSettings(retries=0))
    try:
        results = await asyncio.gather(*(down.query("SELECT Id FROM Account") for _ in range(3)),
                                       return_exceptions=True)
        assert all(isinstance(r, SourceUnavailable) for r in results)
    finally:
        await down.close()


async def test_salesforce_before_composite_queries_go_alone(org: EmulatorServer, stats: Callable,
                                                            reset_stats: Callable) -> None:
    client = _org_client(org, version="33.0")
    try:
        reset_stats(org)
        await asyncio.gather(*(client.query("SELECT Id FROM Account LIMIT 1") for _ in range(3)))
        counts = stats(org)
        assert counts.get(QUERY.format("33.0")) == 3 and COMPOSITE.format("33.0") not in counts
    finally:
        await client.close()


@pytest.mark.parametrize(("value", "seconds"), [("500ms", 0.5), ("2", 2.0), ("1.5s", 1.5), ("soon", None),
                                                (None, None)])
def test_delay_headers(value: str | None, seconds: float | None) -> None:
    assert delay_header_s(value) == seconds
