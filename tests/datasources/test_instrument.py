"""What the HTTP clients report for the gateway's metrics (datasources.instrument): each exchange with its operation,
status and duration, failures by kind, and the API budget the backends announce; an observer that fails disturbs
nothing."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from datasources.crm.client import CrmClient
from datasources.ctms.client import CtmsClient
from datasources.errors import SourceRejected, SourceUnavailable
from datasources.http import HttpSettings
from datasources.instrument import OBSERVERS, ApiBudget, BackendCall, BackendError, Event
from datasources.query import Select
from emulators import crm, ctms
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, build_world
from emulators.server import EmulatorServer

pytestmark = pytest.mark.anyio
NO_RETRY = HttpSettings(retries=0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, EmulatorServer]]:
    world = build_world(5)
    started = {"vault": EmulatorServer(ctms.create_app(world)).start(),
               "org": EmulatorServer(crm.create_app("us", world)).start(),
               "dead_vault": EmulatorServer(ctms.create_app(world, session_idle_s=0)).start()}
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture
def events() -> Iterator[list[Event]]:
    seen: list[Event] = []
    OBSERVERS.add(seen.append)
    yield seen
    OBSERVERS.remove(seen.append)


def _vault(url: str, password: str = CTMS_CREDENTIALS["password"]) -> CtmsClient:
    return CtmsClient(url, CTMS_CREDENTIALS["username"], password, settings=NO_RETRY)


def _org(url: str) -> CrmClient:
    return CrmClient("us", url, client_id=CRM_CREDENTIALS["client_id"],
                     client_secret=CRM_CREDENTIALS["client_secret"], settings=NO_RETRY)


def _calls(events: list[Event]) -> list[tuple[str, str, int | None, str | None]]:
    return [(e.source, e.operation, e.status, e.error) for e in events if isinstance(e, BackendCall)]


def _errors(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.source, e.kind) for e in events if isinstance(e, BackendError)]


async def test_vault_calls_and_its_burst_budget(servers: dict[str, EmulatorServer], events: list[Event]) -> None:
    client = _vault(servers["vault"].url)
    try:
        await client.query(Select("person__sys", ["id"], limit=2))
    finally:
        await client.close()
    assert _calls(events) == [("ctms", "login", 200, None), ("ctms", "query", 200, None)]
    assert all(e.duration_s > 0 for e in events if isinstance(e, BackendCall))
    [budget] = [e for e in events if isinstance(e, ApiBudget)]
    assert budget.source == "ctms" and budget.window == "burst" and 0 < budget.remaining < budget.limit


async def test_an_orgs_calls_and_its_daily_allowance(servers: dict[str, EmulatorServer], events: list[Event]) -> None:
    client = _org(servers["org"].url)
    try:
        await client.query(Select("Account", ["Id"], limit=2))
        assert await client.get("Account", "001000000000000XYZ") is None  # a 404 the caller expects
    finally:
        await client.close()
    assert _calls(events) == [("crm:us", "login", 200, None), ("crm:us", "query", 200, None),
                              ("crm:us", "read", 404, None)]
    budgets = [e for e in events if isinstance(e, ApiBudget)]
    assert [b.window for b in budgets] == ["daily", "daily"] and budgets[1].remaining == budgets[0].remaining - 1
    assert client.api_limit == budgets[1].limit and client.api_remaining == budgets[1].remaining
    assert _errors(events) == [("crm:us", "not_found")]


async def test_failures_by_kind(servers: dict[str, EmulatorServer], events: list[Event]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
    for client, raised, kind in [(_vault(closed), SourceUnavailable, "unreachable"),
                                 (_vault(servers["vault"].url, "wrong"), SourceRejected, "login_failed"),
                                 (_vault(servers["dead_vault"].url), SourceUnavailable, "session_expired")]:
        events.clear()
        try:
            with pytest.raises(raised):
                await client.query(Select("person__sys", ["id"], limit=1))
        finally:
            await client.close()
        assert ("ctms", kind) in _errors(events), (kind, events)
    events.clear()
    client = _vault(closed)
    try:
        with pytest.raises(SourceUnavailable):
            await client.login()
    finally:
        await client.close()
    assert _calls(events) == [("ctms", "login", None, "unreachable")]


def test_operations_are_a_small_fixed_set_never_an_id() -> None:
    vault, org = _vault("http://vault"), _org("http://org")
    cases: list[tuple[Any, str, str, str]] = [
        (vault, "POST", "/api/v26.1/auth", "login"), (vault, "POST", "/api/v26.1/query", "query"),
        (vault, "GET", "/api/v26.1/query/abc-123?pagesize=1000&pageoffset=1000", "query"),
        (vault, "GET", "/api/v26.1/vobjects/person__sys/0PE000000000001", "read"),
        (vault, "POST", "/api/v26.1/vobjects/crm_activity__v", "write"),
        (vault, "PUT", "/api/v26.1/vobjects/crm_activity__v", "update"),
        (vault, "GET", "/api/v26.1/objects/deletions/vobjects/crm_activity__v", "deletions"),
        (vault, "GET", "/api/v26.1/metadata/vobjects/person__sys", "describe"), (vault, "GET", "/api", "probe"),
        (org, "POST", "/services/oauth2/token", "login"),
        (org, "GET", "/services/data/v66.0/query/01g000000000001-2000", "query"),
        (org, "PATCH", "/services/data/v66.0/sobjects/Account/External_ID__c/EXT-1", "upsert"),
        (org, "PATCH", "/services/data/v66.0/composite/sobjects/Call2_vod__c/Ext__c", "upsert"),
        (org, "POST", "/services/data/v66.0/sobjects/Call2_vod__c/", "create"),
        (org, "DELETE", "/services/data/v66.0/sobjects/Call2_vod__c/a0X000000000001", "delete"),
        (org, "GET", "/services/data/v66.0/sobjects/Call2_vod__c/updated/", "updated"),
        (org, "GET", "/services/data/v66.0/sobjects/Account/describe", "describe"),
        (org, "GET", "/services/data/", "probe"), (org, "GET", "/somewhere/else", "other"),
    ]
    for client, method, path, expected in cases:
        assert client.operation_of(method, f"{client.base_url}{path}") == expected, (method, path)


async def test_a_failing_observer_is_logged_and_the_call_goes_on(servers: dict[str, EmulatorServer],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("observer bug")

    OBSERVERS.add(broken)
    client = _vault(servers["vault"].url)
    try:
        assert len(await client.query(Select("person__sys", ["id"], limit=2))) == 2
    finally:
        OBSERVERS.remove(broken)
        await client.close()
    assert any("an observer failed" in r.getMessage() for r in caplog.records)
