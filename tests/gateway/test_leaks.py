"""Errors and logs that leak nothing: a backend's text (its SOQL or VQL) never reaches the caller, every answer and
error names a request id, malformed ids never reach a backend, and what cannot be GraphQL is a clear 400."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

import resolvers.people
from tests.conftest import CRM_V
from tests.writes.conftest import CREATE, new_input, wait_synced

pytestmark = pytest.mark.slow  # the slowest end-to-end module of the fast subset: run by `make test`
PERSON = "0PE000000000004"  # read only: has items in the CTMS and in both orgs
BOGUS = "Not_A_Field__c"
AMIR = "amir.haddad@ctms.example.com"  # read_only: no permission at all
QUERY = """query($id: ID!) { person(id: $id) { ctmsId accounts { connection { name } accountId }
  timeline(first: 20) { edges { node { id } } } } }"""
JSON = {"Accept": "application/json"}


def _identifier(stack, person_id: str) -> str:  # noqa: ANN001
    return next(p for p in stack.world.ctms["person__sys"] if p["id"] == person_id)["external_id__v"]


def _mine(caplog: pytest.LogCaptureFixture, request_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if request_id in r.getMessage()]


@pytest.fixture(scope="module")
def quiet(stack):  # noqa: ANN001, ANN201
    """A gateway of its own with no worker, so only the requests under test could reach the stand-ins."""
    return stack.start_gateway(worker=False)


@pytest.fixture(scope="module")
def misconfigured(stack):  # noqa: ANN001, ANN201
    """A gateway with its own store, whose us connection names a CRM field that does not exist: every SOQL it sends
    on accounts is refused, with an error text that quotes the query."""
    from datasources.store.db import create_engine
    from datasources.store.repo import Store
    from gateway.demo import configure

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ccgw-leaks-')) / 'gateway.db'}"
    configure(url, stack.orgs)

    async def break_us() -> None:
        store = Store(create_engine(url))
        row = await store.connection("us")
        row.crm_field = BOGUS
        await store.save_connection(row)
        await store.engine.dispose()

    asyncio.run(break_us())
    return stack.start_gateway(database_url=url, worker=False)


# -- a backend's text never reaches the caller ---------------------------------------------------------------

def test_a_refusal_is_a_generic_error_naming_the_source_and_one_log_line(stack, misconfigured, gid, crm_api,
                                                                        caplog) -> None:
    value = _identifier(stack, PERSON)
    # What the org itself answers to such a query: its text quotes the query, identifier values included.
    raw = crm_api["us"].http.get(f"{CRM_V}/query", params={"q": f"SELECT Id FROM Account WHERE {BOGUS} = '{value}'"})
    assert raw.status_code == 400 and "SELECT" in raw.text and value in raw.text

    caplog.set_level(logging.INFO, logger="ccgw")
    r = misconfigured.post(QUERY, {"id": gid("Person", PERSON)}, headers={**JSON, "X-Request-Id": "leak-1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "leak-1"
    body = r.json()
    assert body["data"]["person"]["ctmsId"] == PERSON
    refused = ("crm:us refused the request",
               {"code": "SOURCE_UNAVAILABLE", "source": "crm:us", "reason": "REJECTED", "requestId": "leak-1"})
    assert {tuple(e["path"]): (e["message"], e["extensions"]) for e in body["errors"]} == {
        ("person", "accounts"): refused, ("person", "timeline"): refused}
    for secret in ("SELECT", "WHERE", BOGUS, value, "ERROR at Row"):
        assert secret not in r.text

    logged = _mine(caplog, "leak-1")
    assert logged and all(rec.exc_info is None for rec in logged)
    assert any(rec.levelno == logging.WARNING and "crm:us refused" in rec.getMessage() for rec in logged)
    for rec in logged:
        assert not any(secret in rec.getMessage() for secret in ("SELECT", BOGUS, value)), rec.getMessage()


def test_a_source_that_is_down_is_reported_as_unavailable(stack, knobs, gid) -> None:
    knobs(stack.orgs["eu"], outage="503")
    r = stack.gateway.post(QUERY, {"id": gid("Person", PERSON)})
    rid = r.headers["x-request-id"]
    down = ("crm:eu is unavailable",
            {"code": "SOURCE_UNAVAILABLE", "source": "crm:eu", "reason": "UNAVAILABLE", "requestId": rid})
    assert {tuple(e["path"]): (e["message"], e["extensions"]) for e in r.json()["errors"]} == {
        ("person", "accounts"): down, ("person", "timeline"): down}


def test_last_error_of_a_sync_is_a_category(stack, knobs) -> None:
    knobs(stack.orgs["eu"], failure_rate=1.0)
    out = stack.gql(CREATE, {"input": new_input(subject="leaks: eu answers 503")})["data"]["createClinicalActivity"]
    assert out["userErrors"] == []
    sync = {s["connection"]["name"]: s for s in out["activity"]["sync"]}
    assert (sync["eu"]["state"], sync["eu"]["lastError"]) == ("PENDING", "org unavailable")
    assert sync["us"]["state"] == "SYNCED" and sync["us"]["lastError"] is None
    knobs(stack.orgs["eu"], failure_rate=0.0)
    wait_synced(stack.gql, out["activity"]["id"], {"us": "SYNCED", "eu": "SYNCED"}, timeout=20)


# -- the request id ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given", ["trace-42.a_B", "x" * 64])
def test_a_sane_request_id_is_echoed_and_names_the_errors(stack, given: str) -> None:
    r = stack.gateway.post('{ node(id: "!!!") { id } }', headers={**JSON, "X-Request-Id": given})
    assert r.headers["x-request-id"] == given
    assert [e["extensions"]["requestId"] for e in r.json()["errors"]] == [given]


@pytest.mark.parametrize("given", [None, "", "x" * 65, "has space", "a/b", "<script>", "semi;colon"])
def test_any_other_request_id_is_replaced_by_a_new_one(stack, given: str | None) -> None:
    headers = JSON if given is None else {**JSON, "X-Request-Id": given}
    r = stack.gateway.post('{ node(id: "!!!") { id } }', headers=headers)
    rid = r.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert [e["extensions"]["requestId"] for e in r.json()["errors"]] == [rid]


@pytest.mark.parametrize(("query", "user"), [
    ("{ viewer {", None), ("{ nope }", None), ('{ node(id: "!!!") { id } }', None),
    ('{ person(id: "0PE000000000001") { timeline(first: 0) { edges { cursor } } } }', None),
    ("{ auditLog { actor } }", AMIR),
], ids=["parse", "validation", "bad-id", "bad-argument", "forbidden"])
def test_every_graphql_error_carries_the_request_id(stack, query: str, user: str | None) -> None:
    gateway = stack.as_user(user) if user else stack.gateway
    r = gateway.post(query)
    errors = r.json()["errors"]
    assert errors and all(e["extensions"]["requestId"] == r.headers["x-request-id"] for e in errors), errors


def test_refusals_before_graphql_carry_the_header_too(stack) -> None:
    unauthenticated = stack.gateway.post("{ viewer { name } }", token=None)
    too_large = stack.gateway.post("{ viewer { name } }" + " " * stack.settings.max_body_bytes)
    health = stack.gateway.client.get("/healthz")
    assert (unauthenticated.status_code, too_large.status_code, health.status_code) == (401, 413, 200)
    for r in (unauthenticated, too_large, health):
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


# -- ids are checked by format before any backend call ---------------------------------------------------

SEND = """mutation($input: SendCallToClinicalInput!) { sendCallToClinical(input: $input) {
  activity { id } userErrors { field code } } }"""
RETRY = "mutation($id: ID!) { retrySync(activityId: $id) { activity { id } userErrors { field code } } }"
UPDATE = """mutation($input: UpdateClinicalActivityInput!) { updateClinicalActivity(input: $input) {
  activity { id } userErrors { field code } } }"""
DELETE = "mutation($id: ID!) { deleteClinicalActivity(id: $id) { deletedId userErrors { field code } } }"
LOG = "mutation($input: LogCallInput!) { logCall(input: $input) { callId userErrors { field code } } }"


@pytest.fixture
def no_backend_call(stack, stats, reset_stats):  # noqa: ANN001, ANN201
    """Asserts, after the test, that none of the stand-ins was asked anything during it."""
    for server in stack.servers():
        reset_stats(server)
    yield
    assert {s.url: stats(s).get("requests", 0) for s in stack.servers()} == {s.url: 0 for s in stack.servers()}


@pytest.mark.parametrize("call_id", ["a0C0U000000001A' OR Id != '", "a0C0U000000001AAAAA", "a0C0U00000001",
                                     "a0C0U000000001AA", "a0C0U00000000_AAAA"],
                         ids=["soql", "19-chars", "13-chars", "16-chars", "underscore"])
def test_a_malformed_call_id_is_not_found_without_asking_the_org(quiet, gid, no_backend_call, call_id: str) -> None:
    body = quiet.gql(SEND, {"input": {"connectionId": gid("Connection", "us"), "callId": call_id}})
    assert body["data"]["sendCallToClinical"] == {"activity": None,
                                                  "userErrors": [{"field": ["input", "callId"], "code": "NOT_FOUND"}]}
    assert "errors" not in body


@pytest.mark.parametrize(("type_name", "raw"), [
    ("Person", "0PE00000000000412"), ("Person", "0PE-00000000004"), ("Study", "0ST.1"),
    ("StudySite", "0SI_000000000001"), ("ClinicalActivity", "0AC000000000001" + "A" * 10),
    ("MedicalActivity", "us:a0C0U000000001AAAAZ"), ("MedicalActivity", "us:a0C.U000000001AAAA"),
    ("MedicalActivity", "eu:x"),
], ids=["person-17", "person-dash", "study-dot", "site-underscore", "clinical-25", "medical-19", "medical-dot",
        "medical-short"])
def test_a_malformed_record_id_finds_nothing_without_asking(quiet, gid, no_backend_call, type_name: str,
                                                            raw: str) -> None:
    node = quiet.gql("query($id: ID!) { node(id: $id) { id } }", {"id": gid(type_name, raw)})
    assert node == {"data": {"node": None}}
    if type_name == "Person":
        assert quiet.gql("query($id: ID!) { person(id: $id) { id } }", {"id": gid(type_name, raw)}) == {
            "data": {"person": None}}


def test_mutations_with_malformed_ids_are_not_found_without_asking(quiet, gid, no_backend_call) -> None:
    bad_activity = gid("ClinicalActivity", "0AC_00000000001")
    update = quiet.gql(UPDATE, {"input": {"id": bad_activity, "subject": "x"}})["data"]["updateClinicalActivity"]
    assert update["userErrors"] == [{"field": ["input", "id"], "code": "NOT_FOUND"}]
    delete = quiet.gql(DELETE, {"id": bad_activity})["data"]["deleteClinicalActivity"]
    assert delete["userErrors"] == [{"field": ["id"], "code": "NOT_FOUND"}]
    retry = quiet.gql(RETRY, {"id": gid("MedicalActivity", "us:not.an.id")})["data"]["retrySync"]
    assert retry["userErrors"] == [{"field": ["activityId"], "code": "NOT_FOUND"}]
    create = quiet.gql(CREATE, {"input": {**new_input(), "personId": gid("Person", "0PE.1"),
                                          "context": {"studySiteId": gid("StudySite", "0SI" + "0" * 20)}}})
    assert [(e["field"], e["code"]) for e in create["data"]["createClinicalActivity"]["userErrors"]] == [
        (["input", "personId"], "NOT_FOUND"), (["input", "context", "studySiteId"], "NOT_FOUND")]
    log = quiet.gql(LOG, {"input": {"connectionId": gid("Connection", "us"), "personId": gid("Person", "0PE-4"),
                                    "date": "2026-01-05", "channel": "PHONE", "completed": True}})["data"]["logCall"]
    assert log["userErrors"] == [{"field": ["input", "personId"], "code": "NOT_FOUND"}]


def test_a_forged_cursor_naming_no_record_never_reaches_the_org(stack, quiet, gid, stats, reset_stats) -> None:
    forged = base64.urlsafe_b64encode(json.dumps({"v": 1, "t": "tl", "d": "2026-01-01",
                                                  "k": "crm:us:a0C_not_an_id"}).encode()).decode().rstrip("=")
    for server in stack.orgs.values():
        reset_stats(server)
    body = quiet.gql("query($id: ID!, $after: String) { person(id: $id) { timeline(after: $after) { edges { cursor } } "
                     "} }", {"id": gid("Person", PERSON), "after": forged})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["path"] == ["person", "timeline"]
    assert [stats(s).get("requests", 0) for s in stack.orgs.values()] == [0, 0]


# -- logs: a caller's mistake in one line, a bug with its traceback -------------------------------------

def test_a_callers_mistake_is_logged_in_one_line_without_a_traceback(stack, caplog) -> None:
    caplog.set_level(logging.INFO)
    r = stack.as_user(AMIR).post('{ auditLog { actor } node(id: "secret-search-text!") { id } }')
    rid = r.headers["x-request-id"]
    codes = sorted(e["extensions"]["code"] for e in r.json()["errors"])
    assert codes == ["BAD_USER_INPUT", "FORBIDDEN"]
    logged = _mine(caplog, rid)
    assert len(logged) == 2 and all(rec.levelno == logging.INFO and rec.exc_info is None for rec in logged)
    assert not any("secret-search-text" in rec.getMessage() for rec in logged)
    assert not [rec for rec in caplog.records if rec.name.startswith("strawberry")]


def test_a_bug_is_an_internal_error_with_the_request_id_and_a_logged_traceback(stack, caplog, monkeypatch) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("person__sys")  # a bug's KeyError is not "not found"

    monkeypatch.setattr(resolvers.people, "people", broken)
    caplog.set_level(logging.INFO)
    r = stack.gateway.post("{ people(first: 1) { edges { cursor } } }")
    rid = r.headers["x-request-id"]
    [error] = r.json()["errors"]
    assert error["message"] == "Internal error; it has been logged."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": rid}
    assert "person__sys" not in r.text and "KeyError" not in r.text
    [logged] = _mine(caplog, rid)
    assert logged.levelno == logging.ERROR and isinstance(logged.exc_info[1], KeyError)  # type: ignore[index]


# -- what cannot be GraphQL ----------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "says"), [
    (b"[]", "not a list"), (b'[{"query": "{ viewer { name } }"}]', "not a list"), (b'"{ viewer { name } }"',
                                                                                  "not a string"),
    (b"1", "not a number"), (b"null", "not null"), (b"true", "not a boolean"), (b"[" * 100_000, "nested too deeply"),
], ids=["empty-list", "batch", "string", "number", "null", "boolean", "deep"])
def test_a_json_body_that_is_not_an_object_is_a_400(stack, body: bytes, says: str) -> None:
    r = stack.gateway.client.post("/graphql", content=body, headers={
        **JSON, "Content-Type": "application/json", "Authorization": f"Bearer {stack.gateway.token}"})
    assert r.status_code == 400, r.text
    [error] = r.json()["errors"]
    assert says in error["message"]
    assert error["extensions"] == {"code": "BAD_REQUEST", "requestId": r.headers["x-request-id"]}


def test_a_websocket_on_graphql_speaks_only_graphql_transport_ws(stack) -> None:
    """A WebSocket on /graphql is for subscriptions in graphql-transport-ws only (tests/gateway/test_subscriptions.py):
    one asking for the legacy graphql-ws protocol is closed (4406) before anything runs."""
    from gateway.app import create_app

    # Without an issuer every request acts as the default user: only the protocol can refuse the socket.
    app = create_app(replace(stack.settings, oidc_issuer=None, worker=False))
    incoming = [{"type": "websocket.connect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        if incoming:
            return incoming.pop()
        await asyncio.sleep(3600)  # the client says nothing more
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": "/graphql",
             "raw_path": b"/graphql", "root_path": "", "query_string": b"", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 50000), "subprotocols": ["graphql-ws"], "state": {},
             "headers": [(b"host", b"127.0.0.1"), (b"sec-websocket-protocol", b"graphql-ws")]}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=5))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert sent[0].get("subprotocol") is None and sent[1]["code"] == 4406
