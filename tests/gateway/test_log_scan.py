"""Nothing personal in the log of a workload through the whole stack: timelines as several users, searches by name
(POST and GET), writes whose subject names a person, refusals, an org down, malformed requests, 401s with tokens.
Every line is scanned for the demo users' and the seeded people's names and emails, the search strings, the
stand-ins' secrets and the bearer tokens. (tests/log_scan.py scans the whole test run the same way.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.conftest import KNOB_DEFAULTS, Stack, set_knobs
from tests.log_scan import LogCapture, leaks, personal_terms
from tests.writes.conftest import CREATE, MATCHED, new_input, unique_key, wait_until

CLARA, SOFIA, AMIR = ("clara.oswald@ctms.example.com", "sofia.lindgren@ctms.example.com",
                      "amir.haddad@ctms.example.com")
SEARCHES = ("Tanaka", "aiko", "chloé", "Weber", "Rossi")
TIMELINE = "query($id: ID!) { person(id: $id) { firstName lastName timeline(first: 20) { edges { node { id } } } } }"
SEARCH = "query Find($q: String) { people(search: $q, first: 3) { edges { node { id firstName lastName } } } }"


@pytest.fixture
def captured() -> Iterator[LogCapture]:
    capture = LogCapture()
    logger = logging.getLogger("ccgw")
    level = logger.level
    logger.setLevel(logging.INFO)
    logging.getLogger().addHandler(capture)
    yield capture
    logging.getLogger().removeHandler(capture)
    logger.setLevel(level)


def _forged(token: str) -> str:
    """The token with its signature changed: well formed, refused."""
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"


def test_a_full_workload_logs_no_name_email_search_or_token(stack: Stack, gid, captured: LogCapture) -> None:
    person = gid("Person", MATCHED)
    users = {email: stack.as_user(email) for email in (CLARA, SOFIA, AMIR)}
    tokens = [stack.token(email) for email in (*users, "ada.admin@ctms.example.com")]
    before = len(captured.lines)

    # Reads: timelines as several users, searches by name, over POST and GET.
    for gw in (stack.gateway, *users.values()):
        gw.gql(TIMELINE, {"id": person})
    for q in SEARCHES:
        assert "errors" not in stack.gql(SEARCH, {"q": q})
    r = stack.gateway.client.get("/graphql", params={"query": '{ people(search: "Weber", first: 1) { edges { '
                                                                  "node { id } } } }"},
                                 headers={"Authorization": f"Bearer {tokens[-1]}", "Accept": "application/json"})
    assert r.status_code == 200
    # Writes: a subject naming a person; one refused for lack of permission; one while an org is down.
    created = users[CLARA].gql(CREATE, {"input": new_input(subject="Follow-up with Aiko Tanaka", key=unique_key())})
    assert created["data"]["createClinicalActivity"]["userErrors"] == [], created
    refused = users[AMIR].gql(CREATE, {"input": new_input(subject="Call Elena Weber", key=unique_key())})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    set_knobs(stack.orgs["eu"], outage="503")
    try:
        down = users[CLARA].gql(CREATE, {"input": new_input(subject="Visit Luca Rossi", key=unique_key())})
        assert "errors" not in down, down
        partial = stack.gql(TIMELINE, {"id": person})
        assert partial["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    finally:
        set_knobs(stack.orgs["eu"], **KNOB_DEFAULTS)
    # Callers' mistakes that quote names: bad input, a field that does not exist, a body that is not JSON.
    long = stack.gql(SEARCH, {"q": "Tanaka " * 20})
    assert long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert stack.gql('{ people(search: "Tanaka") { nope } }')["errors"]
    assert stack.gql(SEARCH, {"q": "Tanaka%"})["errors"]
    bad = stack.gateway.client.post("/graphql", content=b'{"query": "{ people(search: \\"Tanaka\\"',
                                    headers={"Content-Type": "application/json",
                                             "Authorization": f"Bearer {tokens[-1]}"})
    assert bad.status_code == 400
    # 401s carrying tokens: forged, in the wrong scheme, a secret as the token.
    for authorization in (f"Bearer {_forged(tokens[0])}", f"Token {tokens[1]}", "Bearer ccgw-demo-secret"):
        r = stack.gateway.client.post("/graphql", json={"query": "{ viewer { email } }"},
                                      headers={"Authorization": authorization})
        assert r.status_code == 401

    lines = wait_until(lambda: (new := captured.lines[before:]) and len(
        [x for x in new if x[0] == "ccgw.request"]) >= 20 and new, timeout=10, what="the request lines")
    assert any('"outcome":"partial"' in line for _, line in lines)  # the scan saw what it is about
    assert any('"status":401' in line for _, line in lines)
    forged = [_forged(tokens[0])]
    found = leaks(lines, [*personal_terms(), *tokens, *forged], any_case=SEARCHES)  # type: ignore[arg-type]
    assert found == [], "\n".join(f"{term!r} in {logger}: {line}" for term, logger, line in found)


def test_the_scan_finds_what_it_looks_for() -> None:
    lines = [("ccgw.x", '{"message": "searching Tanaka"}'), ("ccgw.x", '{"message": "for clara.oswald@ctms.'
                                                                      'example.com"}'),
             ("ccgw.x", '{"message": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln"}'),
             ("ccgw.x", '{"message": "query AIKO"}'), ("ccgw.x", '{"message": "metadata for Itosan"}')]
    found = {term for term, _, _ in leaks(lines, personal_terms(), any_case=["aiko"])}
    assert {"Tanaka", "clara.oswald@ctms.example.com", "a bearer token (JWT)", "aiko"} <= found
    assert "Ito" not in found  # whole words only
