"""Concurrent creates with replays: every create lands once in the CTMS and once per matching org."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from tests.writes.conftest import CREATE, new_input, unique_key

pytestmark = pytest.mark.slow  # hundreds of concurrent writes

N, REPLAYED = 200, 50


async def _fire(url: str, token: str, inputs: list[dict]) -> list[dict]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async def one(inp: dict) -> dict:
            r = await client.post("/graphql", json={"query": CREATE, "variables": {"input": inp}})
            assert r.status_code == 200, r.text
            body = r.json()
            assert "errors" not in body, body
            return body["data"]["createClinicalActivity"]
        return await asyncio.gather(*(one(i) for i in inputs))


def test_concurrent_creates_and_replays_write_each_once(stack, ctms_api, crm_api):
    run = uuid.uuid4().hex[:8]
    inputs = [new_input(subject=f"conc {run} {i}", channel=("PHONE", "EMAIL", "VIDEO")[i % 3], key=unique_key())
              for i in range(N)]
    before = len(ctms_api.rows("SELECT id FROM crm_activity__v"))
    # The replays go out interleaved with the originals, not after them.
    batch = [x for i, inp in enumerate(inputs) for x in ([inp, inp] if i < REPLAYED else [inp])]
    # The stand-ins, the gateway and this client share one process here: under 250 writes at once a backend call can
    # wait past the suite's 1 s timeout on a slow machine, which is not what this test is about.
    gateway = stack.start_gateway(ctms_timeout_s=30.0, crm_timeout_s=30.0)
    results = asyncio.run(_fire(gateway.url, gateway.token, batch))
    assert all(r["userErrors"] == [] for r in results), [r for r in results if r["userErrors"]][:3]
    by_key: dict[str, set[str]] = {}
    for inp, res in zip(batch, results, strict=True):
        by_key.setdefault(inp["idempotencyKey"], set()).add(res["activity"]["ctmsId"])
    assert all(len(ids) == 1 for ids in by_key.values()), "a replay returned another activity"
    ids = {next(iter(v)) for v in by_key.values()}
    assert len(ids) == N
    after = ctms_api.rows("SELECT id, subject__v FROM crm_activity__v")
    assert len(after) - before == N
    assert Counter(r["subject__v"] for r in after if (r.get("subject__v") or "").startswith(f"conc {run} ")) \
        == Counter({f"conc {run} {i}": 1 for i in range(N)})
    for name, api in crm_api.items():
        # Delivered inline, or by the worker shortly after.
        from tests.writes.conftest import wait_until

        def counts(api=api) -> Counter:
            recs = api.records("SELECT Vault_Activity_Id_vod__c FROM Vault_Clinical_Interaction_vod__c")
            return Counter(r["Vault_Activity_Id_vod__c"] for r in recs if r["Vault_Activity_Id_vod__c"] in ids)
        try:
            wait_until(lambda counts=counts: len(counts()) == N, timeout=30, what=f"{name} mirrors")
        except AssertionError:
            got = counts()
            missing = sorted(ids - set(got))
            from tests.conftest import global_id
            from tests.writes.conftest import NODE_SYNC
            raise AssertionError(f"{name}: {len(got)} of {N}; e.g. " + str(
                stack.gql(NODE_SYNC, {"id": global_id("ClinicalActivity", missing[0])}))) from None
        got = counts()
        assert set(got) == ids and set(got.values()) == {1}, name


def test_same_key_with_another_input_is_refused(create, ctms_api):
    key = unique_key()
    first = create(key=key, subject="first")
    assert first["userErrors"] == []
    before = len(ctms_api.rows("SELECT id FROM crm_activity__v"))
    second = create(key=key, subject="second")
    assert second["activity"] is None
    assert [e["code"] for e in second["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert second["userErrors"][0]["field"] == ["input", "idempotencyKey"]
    assert len(ctms_api.rows("SELECT id FROM crm_activity__v")) == before
    again = create(key=key, subject="first")
    assert again["activity"]["ctmsId"] == first["activity"]["ctmsId"]
