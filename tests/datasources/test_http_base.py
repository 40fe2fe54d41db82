"""The HTTP client base under both backends, against the stand-ins on loopback: one log-in however many calls wait,
one re-login after expiry and never a loop, path parts that cannot step out of their place, retries and refusals."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from datasources.crm.client import CrmClient
from datasources.ctms.client import CtmsClient
from datasources.errors import SourceRejected, SourceUnavailable
from datasources.http import HttpBackend, HttpSettings, query_string
from datasources.query import Select
from emulators import crm, ctms
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, build_world
from emulators.server import EmulatorServer

pytestmark = pytest.mark.anyio
VAULT_LOGIN, VAULT_QUERY = "POST /api/v26.1/auth", "POST /api/v26.1/query"
ORG_LOGIN, ORG_QUERY = "POST /services/oauth2/token", "GET /services/data/v66.0/query"
ORG_COMPOSITE = "POST /services/data/v66.0/composite"
Stats = Callable[[EmulatorServer], dict[str, int]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def world():  # noqa: ANN201
    return build_world(10)


def _serve(app: Any) -> Iterator[EmulatorServer]:
    server = EmulatorServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def vault(world) -> Iterator[EmulatorServer]:  # noqa: ANN001
    yield from _serve(ctms.create_app(world, session_idle_s=0.3))


@pytest.fixture(scope="module")
def org(world) -> Iterator[EmulatorServer]:  # noqa: ANN001
    yield from _serve(crm.create_app("us", world, token_ttl_s=0.3))


@pytest.fixture(scope="module")
def dead_vault(world) -> Iterator[EmulatorServer]:  # noqa: ANN001
    """Every session it opens has expired by the time it is used."""
    yield from _serve(ctms.create_app(world, session_idle_s=0))


@pytest.fixture(scope="module")
def dead_org(world) -> Iterator[EmulatorServer]:  # noqa: ANN001
    """Every token it grants has expired by the time it is used."""
    yield from _serve(crm.create_app("us", world, token_ttl_s=0))


def _settings(changes: dict[str, Any]) -> HttpSettings:
    return HttpSettings(**{"retries": 0, **changes})


def _vault_client(server: EmulatorServer, **settings: Any) -> CtmsClient:
    return CtmsClient(server.url, CTMS_CREDENTIALS["username"], CTMS_CREDENTIALS["password"],
                      settings=_settings(settings))


def _org_client(server: EmulatorServer, **settings: Any) -> CrmClient:
    return CrmClient("us", server.url, client_id=CRM_CREDENTIALS["client_id"],
                     client_secret=CRM_CREDENTIALS["client_secret"], settings=_settings(settings))


def _side(side: str, request: pytest.FixtureRequest, dead: bool = False) -> tuple[EmulatorServer, HttpBackend, tuple]:
    """The stand-in of one side, a client of it, and that side's (log-in route, query route, a one-page query)."""
    server = request.getfixturevalue(("dead_" if dead else "") + side)
    if side == "vault":
        return server, _vault_client(server), (VAULT_LOGIN, VAULT_QUERY, _five("person__sys", "id"))
    return server, _org_client(server), (ORG_LOGIN, ORG_QUERY, _five("Account", "Id"))


def _five(obj: str, field: str) -> Select:
    return Select(obj, [field], limit=5)


@pytest.mark.parametrize("side", ["vault", "org"])
async def test_twenty_concurrent_calls_share_one_log_in(side: str, request: pytest.FixtureRequest,
                                                        stats: Stats, reset_stats: Callable) -> None:
    server, client, (login, query, q) = _side(side, request)
    reset_stats(server)
    try:
        results = await asyncio.gather(*(client.query(q) for _ in range(20)))
    finally:
        await client.close()
    assert all(r == results[0] and len(r) == 5 for r in results)
    counts = stats(server)
    assert counts.get(login) == 1
    if side == "vault":
        assert counts.get(query) == 20
    else:  # queries of one tick go to an org five at a time in Composite calls
        assert counts.get(query) is None and counts.get(ORG_COMPOSITE) == 4


@pytest.mark.slow  # waits for real time to pass (a session expiring)
@pytest.mark.parametrize("side", ["vault", "org"])
async def test_after_expiry_concurrent_calls_log_in_again_once(side: str, request: pytest.FixtureRequest,
                                                               stats: Stats, reset_stats: Callable) -> None:
    server, client, (login, query, q) = _side(side, request)
    try:
        first = await client.query(q)
        before = await client.credential()
        await asyncio.sleep(0.5)  # longer than the stand-in's session or token lifetime
        reset_stats(server)
        results = await asyncio.gather(*(client.query(q) for _ in range(20)))
        after = await client.credential()
    finally:
        await client.close()
    assert all(r == first for r in results) and after.token != before.token
    counts = stats(server)
    # Each call was refused once with the expired credential, then answered with the one new credential (an org's
    # 20 queries go in 4 Composite calls of 5).
    assert counts.get(login) == 1
    if side == "vault":
        assert counts.get(query) == 40
    else:
        assert counts.get(ORG_COMPOSITE) == 8


@pytest.mark.parametrize("side", ["vault", "org"])
async def test_a_second_expiry_in_a_row_is_an_error_not_a_loop(side: str, request: pytest.FixtureRequest,
                                                               stats: Stats, reset_stats: Callable) -> None:
    server, client, (login, query, q) = _side(side, request, dead=True)
    reset_stats(server)
    try:
        with pytest.raises(SourceUnavailable, match="session could not be renewed") as exc:
            await client.query(q)
    finally:
        await client.close()
    assert exc.value.code == "INVALID_SESSION_ID" and exc.value.retryable
    counts = stats(server)
    assert counts.get(login) == 2 and counts.get(query) == 2


def _vault_calls(bad: str) -> list[Callable[[CtmsClient], Coroutine[Any, Any, Any]]]:
    return [lambda c: c.get("person__sys", bad), lambda c: c.get(bad, "0PE000000000001"),
            lambda c: c.describe(bad), lambda c: c.deleted(bad), lambda c: c.write("POST", bad, [{"id": "x"}])]


def _org_calls(bad: str) -> list[Callable[[CrmClient], Coroutine[Any, Any, Any]]]:
    return [lambda c: c.get("Account", bad), lambda c: c.update("Call2_vod__c", bad, {}),
            lambda c: c.delete("Account", bad), lambda c: c.upsert("Account", "External_ID_vod__c", bad, {}),
            lambda c: c.upsert_many(bad, "External_ID_vod__c", [{}]), lambda c: c.describe(bad),
            lambda c: c.create(bad, {})]


BAD_PARTS = ["a/b", "..", "../../oauth2/token", "x?q=1", "a#b", "%2e%2e", "a\\b", "", "a\nb"]


@pytest.mark.parametrize("side", ["vault", "org"])
@pytest.mark.parametrize("bad", BAD_PARTS)
async def test_path_parts_that_could_step_out_are_refused_unsent(side: str, bad: str, request: pytest.FixtureRequest,
                                                                 stats: Stats, reset_stats: Callable) -> None:
    server, client, _ = _side(side, request)
    calls = _vault_calls(bad) if side == "vault" else _org_calls(bad)
    reset_stats(server)
    try:
        for call in calls:
            with pytest.raises(SourceRejected, match="invalid path part") as exc:
                await call(client)
            assert str(exc.value) == f"{client.source}: invalid path part"  # the value is not echoed
    finally:
        await client.close()
    assert client.calls == 0 and stats(server).get("requests", 0) == 0


async def test_path_parts_are_quoted_and_reach_the_backend(org: EmulatorServer) -> None:
    client = _org_client(org)
    try:
        assert client.path_part("a b:c@d+e") == "a%20b%3Ac%40d%2Be"
        assert await client.get("Account", "no such id") is None  # sent (quoted), and the org said 404
        assert client.calls == 2  # the token, then the record
    finally:
        await client.close()


@pytest.mark.parametrize("side", ["vault", "org"])
async def test_a_refused_query_is_typed_and_says_nothing_of_the_backend_text(side: str,
                                                                              request: pytest.FixtureRequest) -> None:
    _, client, (_, _, q) = _side(side, request)
    try:
        with pytest.raises(SourceRejected) as exc:
            await client.query(Select(q.obj, ["nope__c"]))
    finally:
        await client.close()
    assert str(exc.value) == f"{client.source}: request refused" and not exc.value.retryable
    assert exc.value.code in ("INVALID_DATA", "INVALID_FIELD")


@pytest.mark.slow  # waits for real time to pass (the retries' backoff)
@pytest.mark.parametrize("side", ["vault", "org"])
async def test_an_outage_is_retried_then_unavailable(side: str, request: pytest.FixtureRequest, knobs: Callable,
                                                     stats: Stats, reset_stats: Callable) -> None:
    server, _, (login, _, q) = _side(side, request)
    client = (_vault_client if side == "vault" else _org_client)(server, retries=2, backoff_s=0.01)
    knobs(server, outage="503")
    reset_stats(server)
    try:
        with pytest.raises(SourceUnavailable, match="HTTP 503") as exc:
            await client.query(q)
    finally:
        await client.close()
    assert exc.value.retryable and stats(server).get(login) == 3  # the first try and two retries


@pytest.mark.slow  # waits for real time to pass (a read timing out)
async def test_a_read_that_timed_out_is_not_retried(vault: EmulatorServer, knobs: Callable, stats: Stats,
                                                    reset_stats: Callable) -> None:
    client = _vault_client(vault, retries=2, timeout_s=0.2)
    knobs(vault, latency_ms=400)
    reset_stats(vault)
    try:
        with pytest.raises(SourceUnavailable, match="timed out"):
            await client.login()
    finally:
        await client.close()
    assert stats(vault).get(VAULT_LOGIN) == 1


@pytest.mark.parametrize("value", [
    "SELECT Id FROM Account WHERE Name = 'O\\'Brien' AND (NPI__c IN ('1', '2'))",
    "a+b&c=d%e#f?g/h;i", "spaces  and\ttabs\nand lines", "Chloé ✓ 中文 \u2028", "", "%2B%20+",
])
def test_a_query_string_reads_back_as_the_values_it_was_built_from(value: str) -> None:
    assert parse_qsl(query_string(q=value), keep_blank_values=True) == [("q", value)]


def test_a_query_string_reads_back_for_any_text() -> None:
    rng = random.Random(7)
    alphabet = "aZ09 ,'()&=+%#?/\\;:@!$*[]{}|^`\"<>~._-\n\t\ré✓中"
    for _ in range(2000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        assert parse_qsl(query_string(q=value, other="x"), keep_blank_values=True) == [("q", value), ("other", "x")]


def test_urls_accepted_once_are_remembered_and_others_still_refused_every_time() -> None:
    client = CtmsClient("https://vault.example.com", "user", "password")
    own = "https://vault.example.com/api/v26.1/query?page=2"
    assert client.url_for(own) == own == client.url_for(own)
    for foreign in ("https://elsewhere.example.com/api/v26.1/query", "https://user@vault.example.com/api",
                    "https://vault.example.com.evil.example/api", "https://vault.example.com:444/api"):
        for _ in range(2):
            with pytest.raises(SourceRejected):
                client.url_for(foreign)
    for n in range(300):  # pages naming record ids: the memo stays bounded
        client.url_for(f"https://vault.example.com/api/v26.1/objects/x/{n}")
    assert len(client._accepted) <= 256
