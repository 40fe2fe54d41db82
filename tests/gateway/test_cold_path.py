"""A person seen for the first time: one round of backend calls (the CRM lookups do not wait for the person record),
counted with the stand-ins' own request counters."""

from __future__ import annotations

import time

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


def _counts(stack, stats) -> dict[str, int]:  # noqa: ANN001
    names = {"ctms": stack.ctms, **{f"crm:{k}": v for k, v in stack.orgs.items()}}
    return {name: stats(server).get("requests", 0) for name, server in names.items()}


def test_a_cold_person_sends_its_crm_lookups_while_the_ctms_cannot_answer(stack, stats, reset_stats, knobs, gid,
                                                                         fresh) -> None:
    # With the CTMS down, a gateway that waited for the person record would never ask the orgs anything.
    for server in stack.servers():
        reset_stats(server)
    knobs(stack.ctms, outage="503")
    body = fresh.gql(QUERY, {"id": gid("Person", "0PE000000000007")})
    assert body["data"]["person"] is None
    assert {e["extensions"]["source"] for e in body["errors"]} == {"ctms"}
    counts = _counts(stack, stats)
    # The accounts and the calls sent to Clinical, in each org: two queries in one Composite call.
    assert counts["crm:us"] == 1 and counts["crm:eu"] == 1, counts


def test_a_cold_person_is_one_round_and_answers_as_when_warm(stack, stats, reset_stats, knobs, gid, fresh,
                                                            monkeypatch) -> None:
    spans: list[tuple[str, float, float]] = []
    original = HttpBackend.send

    async def send(self, method, path, **kwargs):  # noqa: ANN001, ANN202
        started = time.perf_counter()
        try:
            return await original(self, method, path, **kwargs)
        finally:
            spans.append((self.source, started, time.perf_counter()))

    person = gid("Person", "0PE000000000009")
    knobs(stack.ctms, latency_ms=150)  # the CTMS answers last: a lookup waiting for it would start after it ends
    for server in stack.servers():
        reset_stats(server)
    monkeypatch.setattr(HttpBackend, "send", send)
    cold = fresh.gql(QUERY, {"id": person})
    monkeypatch.setattr(HttpBackend, "send", original)
    assert "errors" not in cold, cold
    assert cold["data"]["person"]["accounts"] and cold["data"]["person"]["timeline"]["edges"]
    # The person and the CTMS activities; per org the accounts and the calls in one Composite call.
    assert _counts(stack, stats) == {"ctms": 2, "crm:us": 1, "crm:eu": 1}
    ctms_done = min(end for source, _, end in spans if source == "ctms")
    assert all(start < ctms_done for source, start, _ in spans if source != "ctms"), spans
    assert fresh.gql(QUERY, {"id": person}) == cold
