"""Incremental sync: a change made directly in the CTMS or an org (not through the gateway) is mirrored once, a
deletion withdraws the mirror, and each source's high-water mark advances past what was handled, and only then."""

from __future__ import annotations

from datetime import date

import pytest

from domain import Channel, SyncState
from resolvers.call_writes import log_call, send_call
from resolvers.delivery import deliver_due
from resolvers.polling import poll_once
from tests.resolvers.world import DAY, Env

pytestmark = pytest.mark.anyio


async def sync_round(env: Env) -> tuple[int, int]:
    """One worker cycle: poll, then deliver what is due; how many changes were planned and mirrors handled."""
    planned = await poll_once(env.services)
    delivered = 0
    while handled := await deliver_due(env.services, "worker"):
        delivered += handled
    return planned, delivered


async def test_an_activity_logged_in_the_ctms_is_mirrored_once_and_its_changes_follow(env: Env) -> None:
    aid = env.ctms.log_activity(env.world.ada, env.site_ref(), DAY, subject="Logged in Vault")
    assert await sync_round(env) == (1, 2)
    records = {n: env.org(n).interaction_records[aid].id for n in ("us", "eu")}
    assert env.org("us").interaction_records[aid].row.activity.subject == "Logged in Vault"
    first_mark = await env.store.mark("ctms:activities")
    assert first_mark == env.ctms.clinical_activities()[0].modified_at.isoformat()

    assert await sync_round(env) == (0, 0)
    assert await env.store.mark("ctms:activities") == first_mark

    env.ctms.edit_activity(aid, subject="Edited in Vault")
    assert await sync_round(env) == (1, 2)
    for name, record in records.items():
        mirror = env.org(name).interaction_records[aid]
        assert (mirror.id, mirror.writes, mirror.row.activity.subject) == (record, 2, "Edited in Vault")
    assert await env.store.mark("ctms:activities") > first_mark


async def test_an_activity_written_through_the_gateway_is_not_mirrored_again(env: Env) -> None:
    created = await env.create(env.world.ada)
    assert created.activity is not None
    assert await sync_round(env) == (0, 0)
    assert [env.org(n).interaction_records[created.activity.id].writes for n in ("us", "eu")] == [1, 1]
    assert await env.store.mark("ctms:activities") is not None  # seen, and passed


async def test_an_activity_deleted_in_the_ctms_is_withdrawn_from_every_org(env: Env) -> None:
    aid = env.ctms.log_activity(env.world.ada, env.site_ref(), DAY)
    other = env.ctms.log_activity(env.world.ada, env.site_ref(), DAY)
    await sync_round(env)
    env.ctms.remove_activity(aid)
    assert await sync_round(env) == (1, 2)
    assert all(aid not in env.org(n).interaction_records for n in ("us", "eu"))
    assert all(other in env.org(n).interaction_records for n in ("us", "eu"))
    mirrors = await env.mirrors("clinical", aid)
    assert {(t, m.state, m.deleted) for t, m in mirrors.items()} == {("us", SyncState.SYNCED, True),
                                                                     ("eu", SyncState.SYNCED, True)}
    assert await env.store.mark("ctms:deletions") == env.ctms.deleted[-1][1].isoformat()
    assert await sync_round(env) == (0, 0)


async def test_a_call_sent_in_an_org_is_copied_once_and_withdrawn_with_it(env: Env) -> None:
    us = env.org("us")
    account = env.world.accounts["us"][env.world.ada][0]
    sent = us.add_call(account, DAY, subject="Sent from the CRM")
    us.add_call(account, DAY, sent=False)  # needs nothing
    assert await sync_round(env) == (1, 1)
    [copy] = env.ctms.copies()
    assert (copy.call_key, copy.person_id, copy.subject) == (f"us:{sent}", env.world.ada, "Sent from the CRM")
    assert await env.states("medical", f"us:{sent}") == {"ctms": SyncState.SYNCED}
    assert await sync_round(env) == (0, 0)

    us.edit_call(sent, subject="Edited in the CRM")
    assert await sync_round(env) == (1, 1)
    [edited] = env.ctms.copies()
    assert (edited.ctms_id, edited.subject) == (copy.ctms_id, "Edited in the CRM")

    us.edit_call(sent, sent=False)  # withdrawn from Clinical
    assert await sync_round(env) == (1, 1)
    assert env.ctms.copies() == []
    assert await env.states("medical", f"us:{sent}") == {"ctms": SyncState.SYNCED}


async def test_a_call_deleted_in_its_org_withdraws_its_copy(env: Env) -> None:
    eu = env.org("eu")
    call = eu.add_call(env.world.accounts["eu"][env.world.ada][0], date(2026, 5, 3))
    await sync_round(env)
    assert [c.call_key for c in env.ctms.copies()] == [f"eu:{call}"]
    mark = await env.store.mark("crm:eu:deleted")
    eu.remove_call(call)
    planned, _ = await sync_round(env)
    assert planned == 1 and env.ctms.copies() == []
    assert (await env.mirrors("medical", f"eu:{call}"))["ctms"].deleted
    assert await env.store.mark("crm:eu:deleted") > (mark or "")


async def test_a_failing_org_keeps_its_mark_and_is_caught_up_later(env: Env) -> None:
    us = env.org("us")
    us.fail("changes_since")
    call = us.add_call(env.world.accounts["us"][env.world.ada][0], DAY)
    aid = env.ctms.log_activity(env.world.bo, env.site_ref(), DAY)
    assert await sync_round(env) == (1, 1)  # the CTMS's change, to us (bo has no account in eu)
    assert await env.states("clinical", aid) == {"us": SyncState.SYNCED, "eu": SyncState.NO_MATCH}
    assert await env.store.mark("crm:us:calls") is None and env.ctms.copies() == []

    us.heal()
    assert await sync_round(env) == (1, 1)
    assert [c.call_key for c in env.ctms.copies()] == [f"us:{call}"]
    assert await env.store.mark("crm:us:calls") == us.call_records[call].modified_at.isoformat()


async def test_calls_written_through_the_gateway_are_not_copied_again(env: Env) -> None:
    us = env.org("us")
    logged = await log_call(await env.ctx(), connection_id="us", person_id=env.world.ada, day=DAY,
                            channel=Channel.PHONE, completed=True, subject="Logged", send_to_clinical=True,
                            idempotency_key=None)
    later = us.add_call(env.world.accounts["us"][env.world.bo][0], DAY, sent=False)
    assert await sync_round(env) == (0, 0)  # the unsent call needs nothing
    assert (await send_call(await env.ctx(), connection_id="us", call_id=later)).errors == []
    assert await sync_round(env) == (0, 0)
    assert sorted(c.call_key for c in env.ctms.copies()) == sorted([f"us:{logged.call_id}", f"us:{later}"])
    assert env.ctms.counts["upsert_medical"] == 2
