"""The Node peer of `bench.load` answers the benchmark's query with the same JSON as the gateway, over the same
stand-ins and store, with the same token (including activities whose mirrors the store knows)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from bench.load import QUERY, global_person
from bench.peer_process import missing, peer_config, start_peer
from bench.procs import Processes
from tests.conftest import global_id

pytestmark = pytest.mark.slow  # a Node process of its own
REASON = missing()
CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { ctmsId sync { state } } userErrors { message } } }"""


def _ask(client: httpx.Client, url: str, person: str) -> dict:
    answer = client.post(url + "/graphql", json={"query": QUERY, "variables": {"id": person}})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def peer(stack):  # noqa: ANN001, ANN201
    database = Path(stack.settings.database_url.removeprefix("sqlite:///"))
    config = peer_config(stack.ctms.url, {name: s.url for name, s in stack.orgs.items()}, database, stack.idp.url)
    with Processes() as procs:
        yield start_peer(procs, config)


@pytest.mark.skipif(REASON is not None, reason=f"the Node peer cannot run: {REASON}")
def test_the_peer_answers_the_same_json_as_the_gateway(stack, peer) -> None:  # noqa: ANN001
    created = stack.gql(CREATE, {"input": {
        "personId": global_id("Person", "0PE000000000003"), "context": {"studyId": "0ST000000000001"},
        "date": "2026-11-20", "channel": "PHONE", "completed": True, "subject": "Peer comparison",
        "idempotencyKey": f"peer-{uuid.uuid4()}"}})["data"]["createClinicalActivity"]
    assert not created["userErrors"], created
    token = stack.token("ada.admin@ctms.example.com")
    people = [global_person(n) for n in range(1, 13)]
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        for person in people:
            ours, theirs = _ask(client, stack.url, person), _ask(client, peer.url, person)
            if ours != theirs:  # a mirror may have moved on between the two reads: once more
                ours, theirs = _ask(client, stack.url, person), _ask(client, peer.url, person)
            assert "errors" not in ours, ours
            assert theirs == ours
        mine = _ask(client, peer.url, global_person(3))["data"]["person"]["timeline"]["edges"]
        assert any(e["node"]["id"] == global_id("ClinicalActivity", created["activity"]["ctmsId"])
                   and e["node"]["sync"][0]["remoteId"] for e in mine)  # the store's mirror, read by the peer
        refused = client.post(peer.url + "/graphql", json={"query": QUERY, "variables": {"id": people[0]}},
                              headers={"Authorization": "Bearer not-a-token"})
        assert refused.status_code == 401
