"""Writes interrupted by a crash: recovery finds what reached the system of record and finishes it (mirrors planned and
delivered), abandons what did not, and nothing is ever written twice."""

from __future__ import annotations

import pytest

from datasources.errors import SourceUnavailable
from domain import Channel, IntentStatus, SyncState
from resolvers.call_writes import log_call
from resolvers.clinical_writes import update_clinical
from resolvers.delivery import deliver_due
from resolvers.recovery import resolve_intents
from tests.resolvers.fakes import Crash
from tests.resolvers.world import DAY, Env

pytestmark = pytest.mark.anyio


async def test_a_create_that_reached_the_ctms_is_finished_and_mirrored_once(env: Env) -> None:
    env.ctms.crash("create_clinical", after_write=True)
    with pytest.raises(Crash):
        await env.create(env.world.ada, key="req-1")
    [written] = env.ctms.clinical_activities()
    [intent] = await env.intents()
    assert intent.status is IntentStatus.PENDING and await env.mirrors("clinical", written.id) == {}

    assert await resolve_intents(env.services) == 1
    [intent] = await env.intents()
    assert (intent.status, intent.result_id) == (IntentStatus.DONE, written.id)
    assert await env.states("clinical", written.id) == {"us": SyncState.PENDING, "eu": SyncState.PENDING}
    assert await deliver_due(env.services, "worker") == 2
    assert await env.states("clinical", written.id) == {"us": SyncState.SYNCED, "eu": SyncState.SYNCED}

    replay = await env.create(env.world.ada, key="req-1")
    assert replay.activity is not None and replay.activity.id == written.id
    assert await resolve_intents(env.services) == 0
    assert await deliver_due(env.services, "worker") == 0
    assert len(env.ctms.clinical_activities()) == 1 and env.ctms.counts["create_clinical"] == 1
    assert [env.org(n).interaction_records[written.id].writes for n in ("us", "eu")] == [1, 1]


async def test_a_create_that_never_reached_the_ctms_is_abandoned_then_written_once_by_a_replay(env: Env) -> None:
    env.ctms.crash("create_clinical", after_write=False)
    with pytest.raises(Crash):
        await env.create(env.world.ada, key="req-1")
    assert await resolve_intents(env.services) == 1
    [intent] = await env.intents()
    assert (intent.status, intent.result_id) == (IntentStatus.ABANDONED, None)
    assert env.ctms.clinical_activities() == []

    replay = await env.create(env.world.ada, key="req-1")
    assert replay.activity is not None
    assert [a.id for a in env.ctms.clinical_activities()] == [replay.activity.id]
    assert env.ctms.records[replay.activity.id].marker == intent.id
    assert await env.states("clinical", replay.activity.id) == {"us": SyncState.SYNCED, "eu": SyncState.SYNCED}


async def test_an_intent_stays_pending_while_the_ctms_cannot_say(env: Env) -> None:
    env.ctms.crash("create_clinical", after_write=True)
    with pytest.raises(Crash):
        await env.create(env.world.ada)
    env.ctms.fail("clinical_written_by", SourceUnavailable)
    assert await resolve_intents(env.services) == 0
    [intent] = await env.intents()
    assert intent.status is IntentStatus.PENDING
    env.ctms.heal()
    assert await resolve_intents(env.services) == 1
    [intent] = await env.intents()
    assert intent.status is IntentStatus.DONE


async def test_an_update_cut_short_brings_the_mirrors_to_what_the_ctms_holds(env: Env) -> None:
    created = await env.create(env.world.ada)
    assert created.activity is not None
    aid = created.activity.id
    env.ctms.crash("update_clinical", after_write=True)
    with pytest.raises(Crash):
        await update_clinical(await env.ctx(), activity_id=aid, day=None, channel=Channel.EMAIL, completed=None,
                              subject=None, subject_set=False)
    assert [env.org(n).interaction_records[aid].row.activity.channel for n in ("us", "eu")] == [Channel.PHONE] * 2

    assert await resolve_intents(env.services) == 1
    assert await deliver_due(env.services, "worker") == 2
    for name in ("us", "eu"):
        mirror = env.org(name).interaction_records[aid]
        assert (mirror.row.activity.channel, mirror.writes) == (Channel.EMAIL, 2)
        assert mirror.row.account_id == env.world.accounts[name][env.world.ada][0]
    assert await env.states("clinical", aid) == {"us": SyncState.SYNCED, "eu": SyncState.SYNCED}


async def test_a_logged_call_that_reached_the_org_is_finished_and_copied_once(env: Env) -> None:
    us = env.org("us")
    us.crash("log_call", after_write=True)

    async def log() -> str | None:
        result = await log_call(await env.ctx(), connection_id="us", person_id=env.world.ada, day=DAY,
                                channel=Channel.PHONE, completed=True, subject="Call", send_to_clinical=True,
                                idempotency_key="call-1")
        return result.call_id

    with pytest.raises(Crash):
        await log()
    [call_id] = us.call_records
    assert await resolve_intents(env.services) == 1
    assert await env.states("medical", f"us:{call_id}") == {"ctms": SyncState.PENDING}
    assert await deliver_due(env.services, "worker") == 1
    [copy] = env.ctms.copies()
    assert (copy.call_key, copy.person_id) == (f"us:{call_id}", env.world.ada)

    assert await log() == call_id
    assert await resolve_intents(env.services) == 0
    assert list(us.call_records) == [call_id] and us.counts["log_call"] == 1
    assert len(env.ctms.copies()) == 1
