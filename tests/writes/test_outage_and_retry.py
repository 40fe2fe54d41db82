"""An org down during a create, and mirrors that failed for good retried by an admin."""

from __future__ import annotations

import pytest

from tests.conftest import global_id
from tests.writes.conftest import mirrors, new_input, wait_synced

CONNECTIONS = "{ connections { name pending failed } }"
RETRY = """mutation($id: ID!) { retrySync(activityId: $id) { activity { id sync { connection { name } state } }
  userErrors { field message code } } }"""


# Backoff, retries and FAILED after the last attempt are tested over in-memory sources in
# tests/resolvers/test_delivery.py; these two are the end to end runs.
@pytest.mark.slow
def test_org_down_during_create_is_delivered_when_it_is_back(stack, create, knobs, crm_api):
    knobs(stack.orgs["us"], outage="refuse")
    payload = create(subject="during the outage")
    assert payload["userErrors"] == []
    act = payload["activity"]
    states = {s["connection"]["name"]: s["state"] for s in act["sync"]}
    assert states == {"us": "PENDING", "eu": "SYNCED"}
    knobs(stack.orgs["us"], outage=None)
    wait_synced(stack.gql, act["id"], {"us": "SYNCED", "eu": "SYNCED"}, timeout=20)
    assert len(mirrors(crm_api["us"], act["ctmsId"])) == 1
    assert len(mirrors(crm_api["eu"], act["ctmsId"])) == 1


def _failed(gql, name: str) -> int:
    return next(c["failed"] for c in gql(CONNECTIONS)["data"]["connections"] if c["name"] == name)


@pytest.mark.slow
def test_failed_mirror_is_counted_then_retried(stack, knobs, crm_api):
    gw = stack.start_gateway(max_attempts=1, worker_interval_s=0.1)
    knobs(stack.orgs["eu"], failure_rate=1.0)
    failed_before = _failed(gw.gql, "eu")
    body = gw.gql("""mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
        activity { id ctmsId sync { connection { name } state } } userErrors { code } } }""",
                  {"input": new_input(subject="to fail")})
    act = body["data"]["createClinicalActivity"]["activity"]
    wait_synced(gw.gql, act["id"], {"eu": "FAILED", "us": "SYNCED"}, timeout=20)
    assert _failed(gw.gql, "eu") == failed_before + 1
    knobs(stack.orgs["eu"], failure_rate=0.0)
    assert mirrors(crm_api["eu"], act["ctmsId"]) == []
    out = gw.gql(RETRY, {"id": act["id"]})["data"]["retrySync"]
    assert out["userErrors"] == []
    wait_synced(gw.gql, act["id"], {"eu": "SYNCED", "us": "SYNCED"}, timeout=20)
    assert _failed(gw.gql, "eu") == failed_before
    assert len(mirrors(crm_api["eu"], act["ctmsId"])) == 1
    assert len(mirrors(crm_api["us"], act["ctmsId"])) == 1


def test_retry_sync_of_unknown_activity(gql):
    out = gql(RETRY, {"id": global_id("ClinicalActivity", "0AC000000099999")})["data"]["retrySync"]
    assert out["activity"] is None and out["userErrors"][0]["code"] == "NOT_FOUND"
