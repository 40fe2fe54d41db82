"""Reconciliation over fakes: what each comparison concludes (in step, missing, stale, orphaned, unmatched, pending,
failed) and what it plans, in both directions; the test delivers what was planned, as the worker would."""

from __future__ import annotations

import asyncio

import pytest

from datasources.crm.mapping import NPI_NUMBER as CRM_NPI_NUMBER
from datasources.ctms.mapping import NPI_NUMBER as CTMS_NPI_NUMBER
from domain import SyncState
from resolvers.delivery import deliver_due
from resolvers.errors import NotFound
from resolvers.reconcile import Summary, reconcile
from tests.resolvers.fakes import CRM_REFUSAL
from tests.resolvers.world import DAY, Env, connection

pytestmark = pytest.mark.anyio


async def _reconcile(env: Env, name: str, *, dry_run: bool = False, wait_s: float = 0.0) -> dict[str, int]:
    phases: list[str] = []
    summary = await reconcile(env.services, name, None, dry_run=dry_run, wait_s=wait_s,
                              progress=lambda phase, done, total: phases.append(phase))
    assert phases[0] == "listing" and "comparing" in phases
    return {k: v for k, v in summary.as_dict().items() if v}


async def _deliver(env: Env) -> None:
    while await deliver_due(env.services, "worker") > 0:
        pass


def _summary(**counts: int) -> dict[str, int]:
    return {k: v for k, v in Summary(**counts).as_dict().items() if v}


async def test_no_and_several_matches_are_unmatched_and_recorded_once(env: Env) -> None:
    w = env.world
    for person in (w.ada, w.bo, w.cy):
        assert (await env.create(person)).activity is not None
    direct = env.ctms.log_activity(w.di, env.site_ref(), DAY, subject="no identifier at all")
    cy_us = (await env.mirrors("clinical", next(a.id for a in env.ctms.clinical_activities()
                                                if a.person_id == w.cy)))["us"]

    assert await _reconcile(env, "us") == _summary(compared=4, in_step=2, unmatched=2)
    assert await env.states("clinical", direct) == {"us": SyncState.NO_MATCH}  # recorded as the write path would
    again = (await env.mirrors("clinical", cy_us.source_id))["us"]
    assert (again.state, again.version) == (SyncState.CONFLICT, cy_us.version)  # known already: left alone
    assert await _reconcile(env, "eu") == _summary(compared=4, in_step=2, unmatched=2)
    assert await _reconcile(env, "us") == _summary(compared=4, in_step=2, unmatched=2)


async def test_a_mirror_waiting_in_the_outbox_is_pending_and_not_planned_again(env: Env) -> None:
    w, us = env.world, env.org("us")
    us.fail("upsert_interactions")
    made = (await env.create(w.ada)).activity
    assert made is not None
    before = (await env.mirrors("clinical", made.id))["us"]
    assert before.state is SyncState.PENDING
    env.ctms.log_activity(w.bo, env.site_ref(), DAY)
    us.fail("accounts_with")  # who the direct activity's person is in us cannot be asked

    assert await _reconcile(env, "us") == _summary(compared=2, pending=1, failed=1)
    assert (await env.mirrors("clinical", made.id))["us"].version == before.version


async def test_a_repair_whose_delivery_is_refused_counts_as_failed(env: Env) -> None:
    us = env.org("us")
    direct = env.ctms.log_activity(env.world.ada, env.site_ref(), DAY)
    us.refuse(direct, CRM_REFUSAL)

    async def worker() -> None:
        while True:
            await deliver_due(env.services, "worker")
            await asyncio.sleep(0.05)

    task = asyncio.create_task(worker())
    try:
        assert await _reconcile(env, "us", wait_s=5.0) == _summary(compared=1, failed=1)
    finally:
        task.cancel()
    assert await env.states("clinical", direct) == {"us": SyncState.FAILED}
    us.accept(direct)
    assert await _reconcile(env, "us") == _summary(compared=1, repaired=1)  # a FAILED mirror is planned again
    await _deliver(env)
    assert await _reconcile(env, "us") == _summary(compared=1, in_step=1)


async def test_calls_sent_to_clinical_and_their_copies(env: Env) -> None:
    w, us = env.world, env.org("us")
    ada = w.accounts["us"][w.ada][0]
    stranger = next(aid for aid, (name, _) in us.account_records.items() if name == "Someone Else")
    edited, withdrawn, removed = (us.add_call(ada, DAY, subject=s) for s in ("edited", "withdrawn", "removed"))
    us.add_call(ada, DAY, sent=False)  # never sent: no copy wanted, nothing to compare

    assert await _reconcile(env, "us", dry_run=True) == _summary(compared=3, repaired=3)
    assert env.ctms.copies() == []
    assert await _reconcile(env, "us") == _summary(compared=3, repaired=3)
    await _deliver(env)
    assert {c.call_id for c in env.ctms.copies()} == {edited, withdrawn, removed}

    us.edit_call(edited, subject="changed in the org")
    us.edit_call(withdrawn, sent=False)
    us.remove_call(removed)
    us.add_call(stranger, DAY)  # no CTMS person has its identifier
    assert await _reconcile(env, "us") == _summary(compared=4, repaired=1, orphaned=2, unmatched=1)
    await _deliver(env)
    [copy] = env.ctms.copies()
    assert (copy.call_id, copy.subject, copy.person_id) == (edited, "changed in the org", w.ada)
    assert await _reconcile(env, "us") == _summary(compared=2, in_step=1, unmatched=1)


async def test_only_an_enabled_connection_is_reconciled(env: Env) -> None:
    with pytest.raises(NotFound):
        await _reconcile(env, "nowhere")
    await env.save_connection(connection("eu", CTMS_NPI_NUMBER, CRM_NPI_NUMBER, enabled=False))
    with pytest.raises(NotFound):
        await _reconcile(env, "eu")
