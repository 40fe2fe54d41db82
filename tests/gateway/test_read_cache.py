"""CCGW_READ_CACHE_S: queries reuse the backends' answers for a few seconds; writes, and what the gateway sees
change, are never answered from it (real stand-ins, requests counted with their `/_admin/stats`)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import Gateway, Stack, VaultApi, global_id
from tests.gateway.test_metrics import scrape, value
from tests.writes.conftest import CREATE, MATCHED, new_input

TIMELINE = """query($id: ID!) { person(id: $id) { firstName accounts { connection { name } accountId }
  timeline(first: 20) { edges { node { id kind date subject sync { connection { name } state } } } } } }"""
PERSON = global_id("Person", MATCHED)


def _requests(stack: Stack, stats) -> int:  # noqa: ANN001
    return sum(stats(server).get("requests", 0) for server in stack.servers())


def _reset(stack: Stack, reset_stats) -> None:  # noqa: ANN001
    for server in stack.servers():
        reset_stats(server)


@pytest.fixture
def cached(stack: Stack) -> Iterator[Gateway]:
    """A gateway of its own (no worker: nothing changes unless a test changes it) keeping answers for 60 s."""
    gateway = stack.start_gateway(worker=False, read_cache_s=60.0)
    yield gateway
    gateway.stop()
    stack._extra.remove(gateway)


def _lookups(gateway: Gateway) -> dict[str, float]:
    """ccgw_read_cache_lookups_total by result, from the gateway's /metrics."""
    samples = scrape(gateway)
    return {result: value(samples, "ccgw_read_cache_lookups_total", result=result) for result in ("hit", "miss")}


def test_a_repeated_query_is_answered_without_a_backend_call(stack: Stack, cached: Gateway, stats,  # noqa: ANN001
                                                             reset_stats) -> None:  # noqa: ANN001
    first = cached.gql(TIMELINE, {"id": PERSON})
    assert "errors" not in first and first["data"]["person"]["timeline"]["edges"], first
    _reset(stack, reset_stats)
    before = _lookups(cached)
    assert cached.gql(TIMELINE, {"id": PERSON}) == first
    assert _requests(stack, stats) == 0
    after = _lookups(cached)
    # The person, its accounts in us and eu, its CTMS activities and its calls in us and eu.
    assert after["hit"] - before["hit"] == 6 and after["miss"] == before["miss"]


def test_without_the_setting_every_query_reads_the_backends(stack: Stack, stats, reset_stats) -> None:  # noqa: ANN001
    stack.gateway.gql(TIMELINE, {"id": PERSON})
    _reset(stack, reset_stats)
    stack.gateway.gql(TIMELINE, {"id": PERSON})
    assert _requests(stack, stats) == 4


def test_a_write_through_the_gateway_shows_in_the_next_query(cached: Gateway) -> None:
    assert "errors" not in cached.gql(TIMELINE, {"id": PERSON})
    body = cached.gql(CREATE, {"input": new_input(subject="kept reads forgotten")})
    assert "errors" not in body and not body["data"]["createClinicalActivity"]["userErrors"], body
    created = body["data"]["createClinicalActivity"]["activity"]["id"]
    edges = cached.gql(TIMELINE, {"id": PERSON})["data"]["person"]["timeline"]["edges"]
    assert created in [e["node"]["id"] for e in edges]


def test_a_change_made_in_a_backend_directly_shows_once_its_answer_expires(stack: Stack, ctms_api: VaultApi,
                                                                           stats, reset_stats) -> None:  # noqa: ANN001
    gateway = stack.start_gateway(worker=False, read_cache_s=2.0)
    try:
        before = gateway.gql(TIMELINE, {"id": PERSON})
        [ctms_id] = ctms_api.write("crm_activity__v", [{
            "object_type__v.api_name__v": "clinical_activity__v", "person__v": MATCHED, "site__v": "0SI000000000001",
            "activity_date__v": time.strftime("%Y-%m-%d"), "channel__v": "phone__v", "completed__v": True,
            "subject__v": "written in the CTMS directly", "owner__v": "Rory Williams (rory@ctms.example.com)"}])
        shown = global_id("ClinicalActivity", ctms_id)
        assert gateway.gql(TIMELINE, {"id": PERSON}) == before  # within the 2 s: the kept answer
        time.sleep(2.1)
        _reset(stack, reset_stats)
        edges = gateway.gql(TIMELINE, {"id": PERSON})["data"]["person"]["timeline"]["edges"]
        assert shown in [e["node"]["id"] for e in edges]
        assert _requests(stack, stats) == 4
    finally:
        gateway.stop()
        stack._extra.remove(gateway)


def test_a_write_is_planned_on_what_the_backends_hold_now(stack: Stack, cached: Gateway,
                                                          ctms_api: VaultApi) -> None:
    """The person's eu identifier changes in the CTMS after a query kept the person: the write reads the person
    again and finds no eu account (from the kept answer it would have synced to the old one)."""
    [row] = ctms_api.rows(f"SELECT id, npi_number__c FROM person__sys WHERE id = '{MATCHED}'")
    assert cached.gql(TIMELINE, {"id": PERSON})["data"]["person"]["accounts"]
    before = _lookups(cached)
    put = ctms_api.http.put("/vobjects/person__sys", json=[{"id": MATCHED, "npi_number__c": "NPI-NOBODY-HAS"}])
    assert put.json()["responseStatus"] == "SUCCESS", put.text
    try:
        body = cached.gql(CREATE, {"input": new_input(subject="planned on a fresh read")})
        sync = {s["connection"]["name"]: s["state"] for s in body["data"]["createClinicalActivity"]["activity"]["sync"]}
        assert sync["eu"] == "NO_MATCH" and sync["us"] == "SYNCED", sync
        assert _lookups(cached) == before  # the mutation never looked among the kept answers
    finally:
        ctms_api.http.put("/vobjects/person__sys", json=[{"id": MATCHED, "npi_number__c": row["npi_number__c"]}])


def test_a_kept_answer_never_shows_a_user_what_their_permissions_hide(stack: Stack, cached: Gateway) -> None:
    from tests.gateway.test_subscriptions import MARTIN  # no Medical Activity view

    kinds = {e["node"]["kind"] for e in cached.gql(TIMELINE, {"id": PERSON})["data"]["person"]["timeline"]["edges"]}
    assert "MEDICAL" in kinds  # kept now, medical activities included
    martin = cached.with_token(stack.token(MARTIN)).gql(TIMELINE, {"id": PERSON})
    assert "errors" not in martin, martin
    assert {e["node"]["kind"] for e in martin["data"]["person"]["timeline"]["edges"]} == {"CLINICAL"}
