"""A person seen for the first time: one round of backend calls (the CRM lookups do not wait for the person record),
counted as the HTTP exchanges made for the request (by its request id) and checked against the stand-ins' own request
counters."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from datasources.http import HttpBackend
from gateway.logs import REQUEST_ID

QUERY = """query($id: ID!) { person(id: $id) { ctmsId accounts { connection { name } accountId }
  timeline(first: 20) { edges { node { id kind date sync { connection { name } state } } } } } }"""


@pytest.fixture(scope="module")
def fresh(stack, gid):  # noqa: ANN001, ANN201
    """A gateway of its own (no worker) that learnt the identifiers at start and has asked for one person only
    (so that it is signed in to every backend)."""
    gateway = stack.start_gateway(worker=False)
    assert "errors" not in gateway.gql(QUERY, {"id": gid("Person", "0PE000000000001")})
    return gateway


@dataclass
class Exchange:
    source: str
    asked: str  # method and path, for the message of a failed count
    # The request it was made for (None: the shared gateway's outbox worker, say); a request's loads that nobody
    # awaits any more (a person that failed) may still retry after it has ended.
    request_id: str | None
    started: float
    ended: float = math.inf  # still under way


@pytest.fixture
def exchanges(monkeypatch) -> list[Exchange]:  # noqa: ANN001
    """Every HTTP exchange any gateway of this process has with a backend while the test runs, from its start."""
    sent: list[Exchange] = []
    original = HttpBackend.send

    async def send(self, method, path, **kwargs):  # noqa: ANN001, ANN202
        exchange = Exchange(self.source, f"{method} {path.split('?')[0]}", REQUEST_ID.get(), time.perf_counter())
        sent.append(exchange)
        try:
            return await original(self, method, path, **kwargs)
        finally:
            exchange.ended = time.perf_counter()

    monkeypatch.setattr(HttpBackend, "send", send)
    return sent


def _reset(stack, reset_stats) -> float:  # noqa: ANN001
    """Zero the stand-ins' counters; the moment after which every exchange started reaches them counted."""
    for server in stack.servers():
        reset_stats(server)
    return time.perf_counter()


def _ask(gateway, person: str, request_id: str) -> dict:  # noqa: ANN001
    """The query for a person, sent under a request id of the test's choosing; the answer's JSON."""
    r = gateway.post(QUERY, {"id": person}, headers={"Accept": "application/json", "X-Request-Id": request_id})
    assert r.status_code == 200 and r.headers["x-request-id"] == request_id, r.text
    return r.json()


def _counts(stack, stats, sent: list[Exchange], since: float, request_id: str) -> dict[str, int]:  # noqa: ANN001
    """The exchanges per backend made for one request, once the stand-ins' counters are seen to hold every
    exchange of this process's gateways since `since` and nothing else (the shared gateway's worker, or a load an
    earlier request no longer awaits, may add their own)."""
    servers = {"ctms": stack.ctms, **{f"crm:{k}": v for k, v in stack.orgs.items()}}
    asking = time.perf_counter()
    received = {name: stats(server).get("requests", 0) for name, server in servers.items()}
    # At least the exchanges of this process's gateways made since then (answered before the counters were read), at
    # most those not over by then: nothing else.
    made = Counter(e.source for e in sent if since <= e.started and e.ended <= asking)
    under_way = Counter(e.source for e in sent if e.ended >= since)
    assert all(made[name] <= received[name] <= under_way[name] for name in servers), (received, made, under_way)
    for_it = Counter(e.source for e in sent if e.request_id == request_id)
    return {name: for_it[name] for name in servers}


def _asked(sent: list[Exchange], request_id: str) -> list[str]:
    """What the gateway asked for one request, for the message of a failed count."""
    return [f"{e.source} {e.asked}" for e in sent if e.request_id == request_id]


def test_a_cold_person_sends_its_crm_lookups_while_the_ctms_cannot_answer(stack, stats, reset_stats, knobs, gid,
                                                                         fresh, exchanges) -> None:
    # With the CTMS down, a gateway that waited for the person record would never ask the orgs anything.
    since = _reset(stack, reset_stats)
    knobs(stack.ctms, outage="503")
    body = _ask(fresh, gid("Person", "0PE000000000007"), "cold-ctms-down")
    assert body["data"]["person"] is None
    assert {e["extensions"]["source"] for e in body["errors"]} == {"ctms"}
    counts = _counts(stack, stats, exchanges, since, "cold-ctms-down")
    # The accounts and the calls sent to Clinical, in each org: two queries in one Composite call.
    assert counts["crm:us"] == 1 and counts["crm:eu"] == 1, _asked(exchanges, "cold-ctms-down")


def test_a_cold_person_is_one_round_and_answers_as_when_warm(stack, stats, reset_stats, knobs, gid, fresh,
                                                            exchanges) -> None:
    person = gid("Person", "0PE000000000009")
    knobs(stack.ctms, latency_ms=150)  # the CTMS answers last: a lookup waiting for it would start after it ends
    since = _reset(stack, reset_stats)
    cold = _ask(fresh, person, "cold-person")
    assert "errors" not in cold, cold
    assert cold["data"]["person"]["accounts"] and cold["data"]["person"]["timeline"]["edges"]
    # The person and the CTMS activities; per org the accounts and the calls in one Composite call.
    counts = _counts(stack, stats, exchanges, since, "cold-person")
    assert counts == {"ctms": 2, "crm:us": 1, "crm:eu": 1}, _asked(exchanges, "cold-person")
    its = [e for e in exchanges if e.request_id == "cold-person"]
    ctms_done = min(e.ended for e in its if e.source == "ctms")
    assert all(e.started < ctms_done for e in its if e.source != "ctms"), its
    assert fresh.gql(QUERY, {"id": person}) == cold
