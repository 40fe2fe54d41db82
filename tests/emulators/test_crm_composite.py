"""The CRM stand-in's Composite resource over real HTTP: subrequests in order, one API call counted."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from emulators.crm import create_app
from emulators.seed import build_world
from emulators.server import EmulatorServer
from tests.emulators.test_crm import Org, V, errors_of

ACCOUNTS = "SELECT Id, Name FROM Account WHERE External_ID_vod__c = 'EXT-000001'"
CALLS = "SELECT Id FROM Call2_vod__c ORDER BY Id LIMIT 3"


@pytest.fixture(scope="module")
def org() -> Iterator[Org]:
    srv = EmulatorServer(create_app("us", build_world(40))).start()
    yield Org(srv)
    srv.stop()


def query(ref: str, soql: str) -> dict:
    return {"method": "GET", "url": f"{V}/query?q={quote(soql)}", "referenceId": ref}


def used(org: Org) -> int:
    return int(org.http.get("/limits").headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])


def test_two_queries_answer_as_two_calls_would_and_count_once(org: Org) -> None:
    before = used(org)
    r = org.http.post("/composite", json={"allOrNone": False,
                                          "compositeRequest": [query("accounts", ACCOUNTS), query("calls", CALLS)]})
    assert r.status_code == 200, r.text
    results = r.json()["compositeResponse"]
    assert [x["referenceId"] for x in results] == ["accounts", "calls"]
    assert [x["httpStatusCode"] for x in results] == [200, 200]
    assert results[0]["body"] == org.query(ACCOUNTS).json()
    assert results[1]["body"] == org.query(CALLS).json()
    assert "Content-Length" not in results[0]["httpHeaders"]
    # The /limits read, the composite, the two plain queries: four calls, the composite's subrequests not counted.
    assert used(org) == before + 4


def test_a_failing_subrequest_answers_alone(org: Org) -> None:
    r = org.http.post("/composite", json={"compositeRequest": [
        query("bad", "SELECT Nope FROM Account"), query("good", CALLS),
        {"method": "GET", "url": f"{V}/sobjects/Account/001000000000000AAA", "referenceId": "missing"}]})
    assert r.status_code == 200
    bad, good, missing = r.json()["compositeResponse"]
    assert bad["httpStatusCode"] == 400 and bad["body"][0]["errorCode"] == "INVALID_FIELD"
    assert good["httpStatusCode"] == 200 and len(good["body"]["records"]) == 3
    assert missing["httpStatusCode"] == 404 and missing["body"][0]["errorCode"] == "NOT_FOUND"


def test_all_or_none_halts_the_rest(org: Org) -> None:
    r = org.http.post("/composite", json={"allOrNone": True, "compositeRequest": [
        query("bad", "SELECT Nope FROM Account"), query("good", CALLS)]})
    bad, good = r.json()["compositeResponse"]
    assert bad["httpStatusCode"] == 400
    assert good["httpStatusCode"] == 400 and good["body"][0]["errorCode"] == "PROCESSING_HALTED"


def test_limits_and_malformed_bodies(org: Org) -> None:
    six = [query(f"q{i}", CALLS) for i in range(6)]
    assert errors_of(org.http.post("/composite", json={"compositeRequest": six})) == ["INVALID_INPUT"]
    reads = [{"method": "GET", "url": f"{V}/limits", "referenceId": f"r{i}"} for i in range(26)]
    assert errors_of(org.http.post("/composite", json={"compositeRequest": reads})) == ["INVALID_INPUT"]
    assert errors_of(org.http.post("/composite", json={"compositeRequest": [
        query("same", CALLS), query("same", CALLS)]})) == ["INVALID_INPUT"]
    assert errors_of(org.http.post("/composite", json={"records": []})) == ["JSON_PARSER_ERROR"]
    assert errors_of(org.http.post("/composite", content=b"{")) == ["JSON_PARSER_ERROR"]
    r = org.http.post("/composite", json={"compositeRequest": [{"method": "PUT", "url": f"{V}/limits",
                                                                "referenceId": "r"}]})
    assert r.status_code == 400 and errors_of(r) == ["INVALID_INPUT"]


def test_needs_a_session(org: Org) -> None:
    r = org.http.post("/composite", json={"compositeRequest": [query("a", CALLS)]},
                      headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and errors_of(r) == ["INVALID_SESSION_ID"]
