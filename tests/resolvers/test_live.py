"""Live updates in domain terms: the poller publishes the change it found, and a subscriber gets only the events of
its person, never one about a medical activity without MEDICAL_ACTIVITY_VIEW, each with a context of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from datasources.events import ActivityEvent, Change, Listener
from domain.permissions import Actor, Permission
from resolvers import live
from resolvers.context import RequestContext
from tests.resolvers.test_polling import sync_round
from tests.resolvers.world import ADMIN, CLINICAL_LEAD, DAY, Env

pytestmark = pytest.mark.anyio
CRA = Actor("sub-martin", "Martin", "Keller", "martin.keller@ctms.example.com",
            frozenset({Permission.CLINICAL_ACTIVITY_CREATE, Permission.CLINICAL_ACTIVITY_EDIT}))


async def _changes(listener: Listener, source_id: str) -> list[Change]:
    """The changes published for one activity so far (those not about it are read and dropped)."""
    out: list[Change] = []
    events = aiter(listener)
    while True:
        try:
            event = await asyncio.wait_for(anext(events), 0.2)
        except TimeoutError:
            return out
        if event.source_id == source_id and event.change is not Change.SYNC_CHANGED:
            out.append(event.change)


async def test_the_poller_publishes_what_it_found(env: Env) -> None:
    async with env.store.events.listen() as listener:
        aid = env.ctms.log_activity(env.world.ada, env.site_ref(), DAY, subject="Logged in Vault")
        await sync_round(env)
        assert await _changes(listener, aid) == [Change.CREATED]
        env.ctms.edit_activity(aid, subject="Edited in Vault")
        await sync_round(env)
        assert await _changes(listener, aid) == [Change.UPDATED]
        env.ctms.remove_activity(aid)
        await sync_round(env)
        assert await _changes(listener, aid) == [Change.DELETED]
        call = env.org("us").add_call(env.world.accounts["us"][env.world.ada][0], DAY)
        await sync_round(env)
        assert await _changes(listener, f"us:{call}") == [Change.CREATED]


async def _first(stream: AsyncIterator[live.LiveEvent]) -> live.LiveEvent:
    return await asyncio.wait_for(anext(stream), 5)


async def _listening(env: Env) -> None:
    for _ in range(500):
        if env.store.events.local.count:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscriber never listened")


async def test_a_subscriber_gets_its_person_s_events_each_with_a_fresh_context(env: Env) -> None:
    ctx = await env.ctx(CLINICAL_LEAD)
    stream = live.activity_events(ctx, env.world.ada)
    first = asyncio.create_task(_first(stream))
    await _listening(env)
    await env.store.events.publish([ActivityEvent(Change.CREATED, "clinical", "0AC9", env.world.bo),
                                    ActivityEvent(Change.CREATED, "clinical", "0AC1", env.world.ada)])
    fresh, event = await first
    assert event.source_id == "0AC1"
    assert isinstance(fresh, RequestContext) and fresh is not ctx and fresh.loaders is not ctx.loaders
    assert fresh.actor == CLINICAL_LEAD
    await stream.aclose()


@pytest.mark.parametrize(("actor", "sees_medical"), [(ADMIN, True), (CRA, False)])
async def test_medical_events_reach_only_users_who_may_see_medical_activities(env: Env, actor: Actor,
                                                                             sees_medical: bool) -> None:
    stream = live.activity_events(await env.ctx(actor), env.world.ada)
    first = asyncio.create_task(_first(stream))
    await _listening(env)
    await env.store.events.publish([
        ActivityEvent(Change.CREATED, "medical", "us:a0C1", env.world.ada),
        ActivityEvent(Change.SYNC_CHANGED, "medical", "us:a0C1", env.world.ada, "ctms"),
        ActivityEvent(Change.CREATED, "clinical", "0AC1", env.world.ada)])
    _, event = await first
    assert event.kind == ("medical" if sees_medical else "clinical")
    await stream.aclose()


async def test_a_call_sent_to_clinical_in_the_crm_reaches_the_subscribers_of_its_person(env: Env) -> None:
    """The poller finds such a call without a person; its delivery matches one, and the event names them."""
    stream = live.activity_events(await env.ctx(ADMIN), env.world.ada)
    first = asyncio.create_task(_first(stream))
    await _listening(env)
    call = env.org("us").add_call(env.world.accounts["us"][env.world.ada][0], DAY)
    await sync_round(env)
    _, event = await first
    assert (event.source_id, event.change, event.person_id) == (f"us:{call}", Change.SYNC_CHANGED, env.world.ada)
    assert (await live.activity_of(await env.ctx(ADMIN), event)) is not None
    await stream.aclose()
