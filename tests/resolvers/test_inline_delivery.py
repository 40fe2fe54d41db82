"""Inline delivery of a create: sent to the orgs while its mirrors are being committed, recorded only against the
rows that commit claimed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from datasources.sources import Interaction
from datasources.store.models import Mirror
from datasources.store.repo import MirrorPlan
from domain import SyncState
from resolvers.delivery import deliver_claimed
from tests.resolvers.world import Env

pytestmark = pytest.mark.anyio


async def test_a_create_is_sent_to_the_orgs_while_its_mirrors_are_committed(env: Env) -> None:
    us = env.org("us")
    await env.create(env.world.ada)  # the org's first create also upserts the study and site records first
    stored_when_sent: list[bool] = []
    upsert = us.upsert_interactions

    async def observed(rows: Sequence[Interaction]) -> list:
        stored_when_sent.append(bool(await env.mirrors("clinical", rows[0].activity.id)))
        return await upsert(rows)

    us.upsert_interactions = observed  # type: ignore[method-assign]
    result = await env.create(env.world.ada)
    assert result.activity is not None
    assert stored_when_sent == [False]  # the request went out before the commit
    assert await env.states("clinical", result.activity.id) == {"us": SyncState.SYNCED, "eu": SyncState.SYNCED}
    assert (await env.intents())[-1].result_id == result.activity.id


async def _ahead_of(env: Env, claims: bool) -> tuple[str, list[Mirror]]:
    """An activity whose mirrors are planned again and held by worker "inline-test", and a delivery of them started
    ahead of a commit that claimed them (`claims`) or claimed nothing (another request finished the intent)."""
    result = await env.create(env.world.ada)
    assert result.activity is not None
    aid = result.activity.id
    plans = [MirrorPlan(t, match_id=env.world.accounts[t][env.world.ada][0]) for t in ("us", "eu")]
    held = await env.store.plan_mirrors("clinical", aid, env.world.ada, plans, claim=("inline-test", 60))
    assert len(held) == 2
    committing: asyncio.Future[list[Mirror]] = asyncio.get_running_loop().create_future()
    committing.set_result(held if claims else [])
    ahead = [Mirror(source_kind="clinical", source_id=aid, target=p.target, person_id=env.world.ada,
                    match_id=p.match_id) for p in plans]
    await deliver_claimed(await env.ctx(), ahead, "inline-test", {aid: result.activity}, committing)
    return aid, held


async def test_outcomes_are_recorded_against_the_rows_the_commit_claimed(env: Env) -> None:
    aid, held = await _ahead_of(env, claims=True)
    after = await env.mirrors("clinical", aid)
    assert {t: (m.state, m.claimed_by, m.delivered_version) for t, m in after.items()} == {
        m.target: (SyncState.SYNCED, None, m.version) for m in held}


async def test_outcomes_are_not_recorded_when_the_commit_claimed_nothing(env: Env) -> None:
    aid, _ = await _ahead_of(env, claims=False)
    after = await env.mirrors("clinical", aid)
    assert {t: (m.state, m.claimed_by) for t, m in after.items()} == {
        "us": (SyncState.PENDING, "inline-test"), "eu": (SyncState.PENDING, "inline-test")}


async def test_outcomes_are_not_recorded_when_the_commit_failed(env: Env) -> None:
    result = await env.create(env.world.ada)
    assert result.activity is not None
    aid = result.activity.id
    committing: asyncio.Future[list[Mirror]] = asyncio.get_running_loop().create_future()
    committing.set_exception(RuntimeError("not committed"))
    before = await env.mirrors("clinical", aid)
    ahead = [Mirror(source_kind="clinical", source_id=aid, target=t, person_id=env.world.ada,
                    match_id=env.world.accounts[t][env.world.ada][0]) for t in ("us", "eu")]
    await deliver_claimed(await env.ctx(), ahead, "inline-test", {aid: result.activity}, committing)
    after = await env.mirrors("clinical", aid)
    assert {t: (m.version, m.updated_at) for t, m in after.items()} == {
        t: (m.version, m.updated_at) for t, m in before.items()}
