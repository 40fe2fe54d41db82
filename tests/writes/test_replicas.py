"""Two gateway replicas with their workers on one PostgreSQL store: creates and replays split across them, an
org outage building a backlog both workers drain; every activity exactly once, one mirror each per org."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from datasources.store.db import migrate
from gateway.demo import configure
from tests import postgres
from tests.conftest import global_id
from tests.writes.conftest import CREATE, NODE_SYNC, GatewayProcess, mirrors, new_input, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not reachable on 127.0.0.1:5432")]


@pytest.fixture
def replicas(stack, gateway_env):  # noqa: ANN001, ANN201
    with postgres.fresh_database() as url:
        migrate(url)
        configure(url, stack.orgs)
        env = {**gateway_env, "CCGW_DATABASE_URL": url, "CCGW_INLINE_DELIVERY_S": "0.5"}
        gateways = [GatewayProcess(env), GatewayProcess(env)]
        try:
            yield gateways
        finally:
            for gw in gateways:
                gw.stop()


def test_two_replicas_on_postgres_never_double(replicas, ctms_api, crm_api, knobs, stack):
    tag = uuid.uuid4().hex[:8]
    inputs = [new_input(subject=f"replica {tag} {i}", key=f"{tag}-{i}") for i in range(30)]
    knobs(stack.orgs["eu"], outage="503")  # eu mirrors pile up as PENDING, to be drained by both workers

    def send(job: tuple[int, dict]) -> str:
        i, inp = job
        body = replicas[i % 2].gql(CREATE, {"input": inp})
        assert "errors" not in body, body
        return body["data"]["createClinicalActivity"]["activity"]["ctmsId"]

    # Every input goes to one replica and, at the same time, its replay to the other.
    jobs = [(i, inp) for i, inp in enumerate(inputs)] + [(i + 1, inp) for i, inp in enumerate(inputs)]
    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(send, jobs))
    assert ids[:30] == ids[30:], "a replay on the other replica answered another activity"
    rows = ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE subject__v LIKE 'replica {tag}%'")
    assert sorted(r["id"] for r in rows) == sorted(ids[:30])

    knobs(stack.orgs["eu"], outage=None)

    def all_synced() -> bool:
        for activity_id in ids[:30]:
            node = replicas[0].gql(NODE_SYNC, {"id": global_id("ClinicalActivity", activity_id)})["data"]["node"]
            if {s["state"] for s in node["sync"]} != {"SYNCED"}:
                return False
        return True
    wait_until(all_synced, timeout=60, what="every mirror SYNCED")
    for activity_id in ids[:30]:
        assert [len(mirrors(api, activity_id)) for api in crm_api.values()] == [1, 1]
