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


async def test_a_create_is_sent_to_the_orgs_while_its_mirrors_are_committed(env: Env,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    us = env.org("us")
    await env.create(env.world.ada)  # the org's first create also upserts the study and site records first
    steps: list[str] = []
    upsert, complete = us.upsert_interactions, env.store.complete_intent

    async def observed(rows: Sequence[Interaction]) -> list:
        steps.append("sent")
        return await upsert(rows)

    async def committed(*args: object, **kwargs: object) -> list[Mirror]:
        claimed = await complete(*args, **kwargs)  # type: ignore[arg-type]
        steps.append("committed")
        return claimed

    us.upsert_interactions = observed  # type: ignore[method-assign]
    monkeypatch.setattr(env.store, "complete_intent", committed)
    result = await env.create(env.world.ada)
    assert result.activity is not None
    assert steps == ["sent", "committed"]  # the request went out before the commit (a SQLite file's is synchronous)
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


async def test_every_orgs_outcome_is_recorded_at_once_and_the_request_shows_them_without_reading_back(
        env: Env) -> None:
    result = await env.create(env.world.ada)
    assert result.activity is not None
    aid = result.activity.id
    plans = [MirrorPlan(t, match_id=env.world.accounts[t][env.world.ada][0]) for t in ("us", "eu")]
    held = await env.store.plan_mirrors("clinical", aid, env.world.ada, plans, claim=("inline-test", 60))
    committing: asyncio.Future[list[Mirror]] = asyncio.get_running_loop().create_future()
    committing.set_result(held)
    recorded: list[int] = []
    read_back: list[object] = []
    record, read = env.store.record_outcomes, env.store.mirror_states

    async def counted_record(worker: str, outcomes: Sequence) -> list:
        recorded.append(len(outcomes))
        return await record(worker, outcomes)

    async def counted_read(keys: Sequence) -> list:
        read_back.append(keys)
        return await read(keys)

    env.store.record_outcomes = counted_record  # type: ignore[method-assign]
    env.store.mirror_states = counted_read  # type: ignore[method-assign]
    ctx = await env.ctx()
    ahead = [Mirror(source_kind="clinical", source_id=aid, target=p.target, person_id=env.world.ada,
                    match_id=p.match_id) for p in plans]
    await deliver_claimed(ctx, ahead, "inline-test", {aid: result.activity}, committing)
    assert recorded == [2]  # both orgs' outcomes, one transaction
    shown = await ctx.mirror_rows("clinical", aid)
    assert read_back == []
    stored = await read([("clinical", aid)])
    assert shown == stored[0]
    assert {m.target: m.state for m in shown} == {"us": SyncState.SYNCED, "eu": SyncState.SYNCED}


async def test_a_request_reads_the_states_back_when_its_delivery_recorded_not_all_of_them(env: Env) -> None:
    result = await env.create(env.world.ada)
    assert result.activity is not None
    aid = result.activity.id
    plans = [MirrorPlan(t, match_id=env.world.accounts[t][env.world.ada][0]) for t in ("us", "eu")]
    held = await env.store.plan_mirrors("clinical", aid, env.world.ada, plans, claim=("inline-test", 60))
    committing: asyncio.Future[list[Mirror]] = asyncio.get_running_loop().create_future()
    committing.set_result([m for m in held if m.target == "us"])  # eu claimed elsewhere
    ctx = await env.ctx()
    ahead = [Mirror(source_kind="clinical", source_id=aid, target=p.target, person_id=env.world.ada,
                    match_id=p.match_id) for p in plans]
    await deliver_claimed(ctx, ahead, "inline-test", {aid: result.activity}, committing)
    shown = {m.target: m.state for m in await ctx.mirror_rows("clinical", aid)}
    assert shown == {"us": SyncState.SYNCED, "eu": SyncState.PENDING}
