"""Planning the mirrors of a clinical activity: per enabled org one match, NO_MATCH or CONFLICT (nothing written
there), matching postponed while an org is down, and nothing at all for a disabled org."""

from __future__ import annotations

import pytest

from datasources.crm.mapping import NPI_NUMBER as CRM_NPI_NUMBER
from datasources.ctms.mapping import NPI_NUMBER as CTMS_NPI_NUMBER
from domain import SyncState
from resolvers.delivery import deliver_due
from resolvers.planning import NO_ACCOUNT, NO_VALUE, clinical_plans
from tests.resolvers.world import Env, connection

pytestmark = pytest.mark.anyio


async def test_one_account_in_each_org_is_one_match_each(env: Env) -> None:
    ada = env.world.ada
    plans = {p.target: p for p in await clinical_plans(await env.ctx(), await env.person(ada))}
    assert {t: (p.state, p.match_id) for t, p in plans.items()} == {
        "us": (SyncState.PENDING, env.world.accounts["us"][ada][0]),
        "eu": (SyncState.PENDING, env.world.accounts["eu"][ada][0])}


async def test_no_account_and_several_accounts_are_no_match_and_conflict(env: Env) -> None:
    ctx = await env.ctx()
    bo = {p.target: p for p in await clinical_plans(ctx, await env.person(env.world.bo))}
    assert (bo["eu"].state, bo["eu"].match_id) == (SyncState.NO_MATCH, None)
    assert bo["eu"].error == NO_ACCOUNT
    cy = {p.target: p for p in await clinical_plans(ctx, await env.person(env.world.cy))}
    assert (cy["us"].state, cy["us"].match_id) == (SyncState.CONFLICT, None)
    assert cy["us"].error == "2 accounts in this org have the person's identifier"
    for plan in (*bo.values(), *cy.values()):  # shown to every user who sees the activity: no backend detail
        assert "__c" not in (plan.error or "") and "EXT-3" not in (plan.error or "")
    di = {p.target: p for p in await clinical_plans(ctx, await env.person(env.world.di))}
    assert {t: (p.state, p.error) for t, p in di.items()} == {
        "us": (SyncState.NO_MATCH, NO_VALUE), "eu": (SyncState.NO_MATCH, NO_VALUE)}


@pytest.mark.parametrize(("who", "expected"), [
    ("ada", {"us": SyncState.SYNCED, "eu": SyncState.SYNCED}),
    ("bo", {"us": SyncState.SYNCED, "eu": SyncState.NO_MATCH}),
    ("cy", {"us": SyncState.CONFLICT, "eu": SyncState.SYNCED}),
    ("di", {"us": SyncState.NO_MATCH, "eu": SyncState.NO_MATCH}),
])
async def test_a_create_writes_only_where_exactly_one_account_matches(env: Env, who: str,
                                                                      expected: dict[str, SyncState]) -> None:
    person = getattr(env.world, who)
    result = await env.create(person)
    assert result.errors == [] and result.activity is not None
    sync = await env.sync(result.activity)
    assert {name: s.state for name, s in sync.items()} == expected
    for name, state in expected.items():
        org = env.org(name)
        if state is SyncState.SYNCED:
            mirror = org.interaction_records[result.activity.id]
            assert sync[name].remote_id == mirror.id
            assert mirror.row.account_id == env.world.accounts[name][person][0]
        else:
            assert result.activity.id not in org.interaction_records
            assert sync[name].last_error  # says why: no value, no account, or which accounts
    assert sum(env.org(n).counts["upsert_interactions"] for n in expected) == \
        sum(state is SyncState.SYNCED for state in expected.values())


async def test_a_disabled_org_gets_no_mirror_and_is_never_asked(env: Env) -> None:
    await env.save_connection(connection("eu", CTMS_NPI_NUMBER, CRM_NPI_NUMBER, enabled=False))
    result = await env.create(env.world.ada)
    assert result.activity is not None
    assert {name: s.state for name, s in (await env.sync(result.activity)).items()} == {"us": SyncState.SYNCED}
    assert set(await env.mirrors("clinical", result.activity.id)) == {"us"}
    assert env.org("eu").counts == {}


async def test_matching_waits_for_an_org_that_is_down_and_happens_at_delivery(env: Env) -> None:
    eu = env.org("eu")
    eu.fail("accounts_with")
    result = await env.create(env.world.ada)
    assert result.activity is not None
    [eu_mirror] = [m for t, m in (await env.mirrors("clinical", result.activity.id)).items() if t == "eu"]
    assert (eu_mirror.state, eu_mirror.match_id, eu_mirror.last_error) == (SyncState.PENDING, None, "org unavailable")
    assert eu.counts["upsert_interactions"] == 0
    eu.heal()
    await env.time_passes()
    assert await deliver_due(env.services, "worker") == 1
    sync = await env.sync(result.activity)
    assert sync["eu"].state is SyncState.SYNCED
    assert eu.interaction_records[result.activity.id].row.account_id == env.world.accounts["eu"][env.world.ada][0]
