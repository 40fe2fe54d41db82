"""The Node peer of `bench.load`, and its Python floor, answer the benchmark's query with the same JSON as the
gateway, over the same stand-ins and store, with the same token (including activities whose mirrors the store
knows)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest

from bench.__main__ import QUERY as LATENCY_QUERY
from bench.load import QUERY, global_person
from bench.peer_process import missing, peer_config, start_floor, start_peer
from bench.procs import Processes
from tests.conftest import global_id

pytestmark = pytest.mark.slow  # a process of its own
REASON = missing()
CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { ctmsId sync { state } } userErrors { message } } }"""


def _ask(client: httpx.Client, url: str, person: str, query: str = QUERY) -> dict:
    answer = client.post(url + "/graphql", json={"query": query, "variables": {"id": person}})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _config(stack) -> dict:  # noqa: ANN001
    database = Path(stack.settings.database_url.removeprefix("sqlite:///"))
    return peer_config(stack.ctms.url, {name: s.url for name, s in stack.orgs.items()}, database, stack.idp.url)


@pytest.fixture
def peer(stack):  # noqa: ANN001, ANN201
    with Processes() as procs:
        yield start_peer(procs, _config(stack))


@pytest.fixture
def floor(stack):  # noqa: ANN001, ANN201
    with Processes() as procs:
        yield start_floor(procs, _config(stack))


@pytest.mark.skipif(REASON is not None, reason=f"the Node peer cannot run: {REASON}")
def test_the_peer_answers_the_same_json_as_the_gateway(stack, peer) -> None:  # noqa: ANN001
    _same_json_as_the_gateway(stack, peer)


def test_the_python_floor_answers_the_same_json_as_the_gateway(stack, floor) -> None:  # noqa: ANN001
    _same_json_as_the_gateway(stack, floor)
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {stack.token('ada.admin@ctms.example.com')}"}
                      ) as client:  # the latency benchmark's query too: no accounts, no sync states
        for person in [global_person(n) for n in range(1, 7)]:
            ours = _ask(client, stack.url, person, LATENCY_QUERY)
            assert "errors" not in ours and _ask(client, floor.url, person, LATENCY_QUERY) == ours


def _same_json_as_the_gateway(stack, other) -> None:  # noqa: ANN001
    created = stack.gql(CREATE, {"input": {
        "personId": global_id("Person", "0PE000000000003"), "context": {"studyId": "0ST000000000001"},
        "date": "2026-11-20", "channel": "PHONE", "completed": True, "subject": "Peer comparison",
        "idempotencyKey": f"peer-{uuid.uuid4()}"}})["data"]["createClinicalActivity"]
    assert not created["userErrors"], created
    token = stack.token("ada.admin@ctms.example.com")
    people = [global_person(n) for n in range(1, 13)]
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        for person in people:
            ours, theirs = _ask(client, stack.url, person), _ask(client, other.url, person)
            if ours != theirs:  # a mirror may have moved on between the two reads: once more
                ours, theirs = _ask(client, stack.url, person), _ask(client, other.url, person)
            assert "errors" not in ours, ours
            assert theirs == ours
        mine = _ask(client, other.url, global_person(3))["data"]["person"]["timeline"]["edges"]
        assert any(e["node"]["id"] == global_id("ClinicalActivity", created["activity"]["ctmsId"])
                   and e["node"]["sync"][0]["remoteId"] for e in mine)  # the store's mirror, read by the other
        refused = client.post(other.url + "/graphql", json={"query": QUERY, "variables": {"id": people[0]}},
                              headers={"Authorization": "Bearer not-a-token"})
        assert refused.status_code == 401


@pytest.mark.skipif(REASON is not None, reason=f"the Node peer cannot run: {REASON}")
def test_the_gateway_speaks_persisted_queries_as_apollo_server_does(stack, peer) -> None:  # noqa: ANN001
    """Apollo Server's own implementation, in the peer, is the reference: the same miss, then the same answers to
    the hash alone once the query was sent with it (as bench.load --persisted sends them)."""
    token = stack.token("ada.admin@ctms.example.com")
    query = QUERY.replace("lastName", f"lastName {'a' + uuid.uuid4().hex}: firstName")  # a hash nobody sent yet
    digest = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
    variables = {"id": global_person(3)}
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}) as c:
        misses = [c.post(url + "/graphql", json={"extensions": digest, "variables": variables})
                  for url in (stack.url, peer.url)]
        assert [(m.status_code, m.json()["errors"][0]["message"], m.json()["errors"][0]["extensions"]["code"])
                for m in misses] == [(200, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")] * 2
        assert [m.headers["cache-control"] for m in misses] == ["private, no-cache, must-revalidate"] * 2
        for url in (stack.url, peer.url):
            taken = c.post(url + "/graphql", json={"query": query, "extensions": digest, "variables": variables})
            assert taken.status_code == 200 and "errors" not in taken.json(), taken.text
        for _ in range(2):  # a mirror may move on between the two reads: then once more
            ours, theirs = (c.post(url + "/graphql", json={"extensions": digest, "variables": variables}).json()
                            for url in (stack.url, peer.url))
            if ours == theirs:
                break
        assert "errors" not in ours and ours == theirs
        wrong = [c.post(url + "/graphql", json={"query": QUERY, "extensions": digest}) for url in (stack.url, peer.url)]
        assert [w.status_code for w in wrong] == [400, 400]
        assert [w.json()["errors"][0]["message"] for w in wrong] == ["provided sha does not match query"] * 2
