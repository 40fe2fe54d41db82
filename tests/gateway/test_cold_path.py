"""A person seen for the first time: one round of backend calls (the CRM lookups do not wait for the person record),
counted as the HTTP exchanges of the gateway under test and checked against the stand-ins' own request counters."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from datasources.http import HttpBackend

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
    mine: bool  # sent by the gateway under test (the suite's shared gateway runs its outbox worker meanwhile)
    started: float
    ended: float = math.inf  # still under way


@pytest.fixture
def exchanges(fresh, monkeypatch) -> list[Exchange]:  # noqa: ANN001
    """Every HTTP exchange any gateway of this process has with a backend while the test runs, from its start."""
    sent: list[Exchange] = []
    original = HttpBackend.send

    async def send(self, method, path, **kwargs):  # noqa: ANN001, ANN202
        mine = asyncio.get_running_loop() is fresh.server._loop
        exchange = Exchange(self.source, f"{method} {path.split('?')[0]}", mine, time.perf_counter())
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


def _counts(stack, stats, sent: list[Exchange], since: float) -> dict[str, int]:  # noqa: ANN001
    """The gateway under test's exchanges per backend since `since`, once the stand-ins' counters are seen to hold
    every exchange of this process's gateways since then and nothing else (the shared gateway's worker may add its
    own)."""
    servers = {"ctms": stack.ctms, **{f"crm:{k}": v for k, v in stack.orgs.items()}}
    asking = time.perf_counter()
    received = {name: stats(server).get("requests", 0) for name, server in servers.items()}
    # At least the exchanges of this process's gateways made since then (answered before the counters were read), at
    # most those not over by then: nothing else.
    made = Counter(e.source for e in sent if since <= e.started and e.ended <= asking)
    under_way = Counter(e.source for e in sent if e.ended >= since)
    assert all(made[name] <= received[name] <= under_way[name] for name in servers), (received, made, under_way)
    mine = Counter(e.source for e in sent if e.mine and e.started >= since)
    return {name: mine[name] for name in servers}


def _asked(sent: list[Exchange], since: float) -> list[str]:
    """What the gateway under test asked since `since`, for the message of a failed count."""
    return [f"{e.source} {e.asked}" for e in sent if e.mine and e.started >= since]


def test_a_cold_person_sends_its_crm_lookups_while_the_ctms_cannot_answer(stack, stats, reset_stats, knobs, gid,
                                                                         fresh, exchanges) -> None:
    # With the CTMS down, a gateway that waited for the person record would never ask the orgs anything.
    since = _reset(stack, reset_stats)
    knobs(stack.ctms, outage="503")
    body = fresh.gql(QUERY, {"id": gid("Person", "0PE000000000007")})
    assert body["data"]["person"] is None
    assert {e["extensions"]["source"] for e in body["errors"]} == {"ctms"}
    counts = _counts(stack, stats, exchanges, since)
    # The accounts and the calls sent to Clinical, in each org: two queries in one Composite call.
    assert counts["crm:us"] == 1 and counts["crm:eu"] == 1, _asked(exchanges, since)


def test_a_cold_person_is_one_round_and_answers_as_when_warm(stack, stats, reset_stats, knobs, gid, fresh,
                                                            exchanges) -> None:
    person = gid("Person", "0PE000000000009")
    knobs(stack.ctms, latency_ms=150)  # the CTMS answers last: a lookup waiting for it would start after it ends
    since = _reset(stack, reset_stats)
    cold = fresh.gql(QUERY, {"id": person})
    assert "errors" not in cold, cold
    assert cold["data"]["person"]["accounts"] and cold["data"]["person"]["timeline"]["edges"]
    # The person and the CTMS activities; per org the accounts and the calls in one Composite call.
    counts = _counts(stack, stats, exchanges, since)
    assert counts == {"ctms": 2, "crm:us": 1, "crm:eu": 1}, _asked(exchanges, since)
    mine = [e for e in exchanges if e.mine and e.started >= since]
    ctms_done = min(e.ended for e in mine if e.source == "ctms")
    assert all(e.started < ctms_done for e in mine if e.source != "ctms"), mine
    assert fresh.gql(QUERY, {"id": person}) == cold
