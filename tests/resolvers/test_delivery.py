"""Delivery of mirrors: a PENDING mirror delivered and SYNCED with what the activity holds, an unavailable org retried
with backoff until FAILED, a refused record FAILED with a category (never the backend's text), changes and deletions
carried to every org, and calls sent to Clinical copied into the CTMS."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from datasources.crm.mapping import EXTERNAL_ID as CRM_EXTERNAL_ID
from datasources.ctms.mapping import EXTERNAL_ID as CTMS_EXTERNAL_ID
from datasources.errors import SourceRejected
from datasources.store.models import Mirror
from domain import Channel, SyncState
from resolvers.call_writes import log_call, send_call
from resolvers.clinical_writes import delete_clinical, update_clinical
from resolvers.delivery import deliver_due
from resolvers.polling import poll_once
from resolvers.sync_retry import retry_sync
from tests.resolvers.fakes import INTEGRATION_OWNER
from tests.resolvers.world import DAY, MAX_ATTEMPTS, Env, connection

pytestmark = pytest.mark.anyio
REFUSAL = "FIELD_CUSTOM_VALIDATION_EXCEPTION"


def _due_at(m: Mirror) -> datetime:
    return m.next_attempt_at if m.next_attempt_at.tzinfo else m.next_attempt_at.replace(tzinfo=UTC)


async def test_a_pending_mirror_is_delivered_with_what_the_activity_holds(env: Env) -> None:
    us = env.org("us")
    us.fail("upsert_interactions", times=1)
    result = await env.create(env.world.ada)
    assert result.activity is not None
    aid = result.activity.id
    shown = await env.sync(result.activity)
    assert (shown["us"].state, shown["us"].attempts, shown["us"].last_error) == (SyncState.PENDING, 1,
                                                                                 "org unavailable")
    assert shown["eu"].state is SyncState.SYNCED

    await env.time_passes()
    assert await deliver_due(env.services, "worker") == 1
    shown = await env.sync(result.activity)
    mirror = us.interaction_records[aid]
    assert (shown["us"].state, shown["us"].remote_id, shown["us"].last_error) == (SyncState.SYNCED, mirror.id, None)
    written = mirror.row
    assert written.account_id == env.world.accounts["us"][env.world.ada][0]
    assert (written.activity.date, written.activity.channel, written.activity.completed, written.activity.subject,
            written.activity.owner) == (DAY, Channel.PHONE, True, "Enrollment update",
                                        "Ada Admin (ada.admin@ctms.example.com)")
    assert written.study_ref == us.study_refs[env.world.study]
    assert written.site_ref == us.site_refs[env.world.site][0]
    assert written.context_name == "Boston General"
    assert await deliver_due(env.services, "worker") == 0


async def test_an_unavailable_org_is_retried_with_backoff_then_failed(env: Env) -> None:
    us = env.org("us")
    us.fail("upsert_interactions")
    result = await env.create(env.world.ada)
    assert result.activity is not None
    for attempt in range(1, MAX_ATTEMPTS):
        mirror = (await env.mirrors("clinical", result.activity.id))["us"]
        assert (mirror.state, mirror.attempts, mirror.last_error) == (SyncState.PENDING, attempt, "org unavailable")
        assert _due_at(mirror) > datetime.now(UTC)  # backing off: not due at once
        assert await deliver_due(env.services, "worker") == 0
        await env.time_passes()
        assert await deliver_due(env.services, "worker") == 1
    mirror = (await env.mirrors("clinical", result.activity.id))["us"]
    assert (mirror.state, mirror.attempts, mirror.last_error) == (SyncState.FAILED, MAX_ATTEMPTS, "org unavailable")
    assert us.counts["upsert_interactions"] == MAX_ATTEMPTS
    await env.time_passes()
    assert await deliver_due(env.services, "worker") == 0  # a FAILED mirror waits for an admin

    us.heal()
    retried = await retry_sync(await env.ctx(), result.activity.id)
    assert retried.errors == []
    mirror = (await env.mirrors("clinical", result.activity.id))["us"]
    assert (mirror.state, mirror.remote_id, mirror.last_error) == (SyncState.SYNCED, us.interaction_records[
        result.activity.id].id, None)


@pytest.mark.parametrize("how_many", [1, 3], ids=["alone", "in-a-batch"])
async def test_a_refused_record_is_failed_with_a_category(env: Env, how_many: int) -> None:
    us = env.org("us")
    ids = [env.ctms.log_activity(env.world.ada, env.site_ref(), date(2026, 5, d)) for d in range(1, how_many + 1)]
    assert await poll_once(env.services) == how_many
    refused = ids[0]
    us.refuse(refused, REFUSAL)
    assert await deliver_due(env.services, "worker") == 2 * how_many
    mirror = (await env.mirrors("clinical", refused))["us"]
    assert (mirror.state, mirror.attempts, mirror.last_error) == (SyncState.FAILED, 1,
                                                                  f"CRM refused the record ({REFUSAL})")
    assert refused not in us.interaction_records
    for other in ids[1:]:
        assert (await env.mirrors("clinical", other))["us"].state is SyncState.SYNCED
    assert (await env.mirrors("clinical", refused))["eu"].state is SyncState.SYNCED
    await env.time_passes()
    assert await deliver_due(env.services, "worker") == 0  # refused: retrying would not help


async def test_a_rejected_request_fails_without_retrying(env: Env) -> None:
    us = env.org("us")
    us.fail("upsert_interactions", SourceRejected, code="INVALID_FIELD")
    result = await env.create(env.world.ada)
    assert result.activity is not None
    mirror = (await env.mirrors("clinical", result.activity.id))["us"]
    assert (mirror.state, mirror.last_error) == (SyncState.FAILED, "CRM refused the record (INVALID_FIELD)")
    assert us.counts["upsert_interactions"] == 1


async def test_a_change_and_a_deletion_reach_every_org(env: Env) -> None:
    created = await env.create(env.world.ada)
    assert created.activity is not None
    aid = created.activity.id
    records = {n: env.org(n).interaction_records[aid].id for n in ("us", "eu")}

    updated = await update_clinical(await env.ctx(), activity_id=aid, day=None, channel=Channel.VIDEO,
                                    completed=None, subject="Visit moved", subject_set=True)
    assert updated.errors == []
    for name, record in records.items():
        mirror = env.org(name).interaction_records[aid]
        assert (mirror.id, mirror.writes, mirror.row.activity.subject, mirror.row.activity.channel) == (
            record, 2, "Visit moved", Channel.VIDEO)

    deleted = await delete_clinical(await env.ctx(), aid)
    assert deleted.deleted_id == aid
    assert env.ctms.activity(aid) is None
    assert all(aid not in env.org(n).interaction_records for n in ("us", "eu"))
    mirrors = await env.mirrors("clinical", aid)
    assert {(t, m.state, m.deleted, m.remote_id) for t, m in mirrors.items()} == {
        (t, SyncState.SYNCED, True, record) for t, record in records.items()}


async def test_a_mirror_of_a_connection_disabled_meanwhile_is_failed_unsent(env: Env) -> None:
    us = env.org("us")
    us.fail("upsert_interactions", times=1)
    result = await env.create(env.world.ada)
    assert result.activity is not None
    await env.save_connection(connection("us", CTMS_EXTERNAL_ID, CRM_EXTERNAL_ID, enabled=False))
    await env.time_passes()
    assert await deliver_due(env.services, "worker") == 1
    mirror = (await env.mirrors("clinical", result.activity.id))["us"]
    assert (mirror.state, mirror.attempts, mirror.last_error) == (SyncState.FAILED, 1, "connection us is not enabled")
    assert us.counts["upsert_interactions"] == 1 and result.activity.id not in us.interaction_records


async def test_a_logged_call_sent_to_clinical_is_copied_into_the_ctms(env: Env) -> None:
    ada = env.world.ada
    result = await log_call(await env.ctx(), connection_id="us", person_id=ada, day=DAY, channel=Channel.VIDEO,
                            completed=True, subject="Advisory board", send_to_clinical=True, idempotency_key=None)
    assert result.errors == [] and result.call_id is not None
    key = f"us:{result.call_id}"
    [copy] = env.ctms.copies()
    assert (copy.call_key, copy.person_id, copy.date, copy.channel, copy.subject, copy.owner) == (
        key, ada, DAY, Channel.VIDEO, "Advisory board", INTEGRATION_OWNER)
    ctms_mirror = (await env.mirrors("medical", key))["ctms"]
    assert (ctms_mirror.state, ctms_mirror.remote_id) == (SyncState.SYNCED, copy.ctms_id)
    assert env.org("us").call_records[result.call_id].account_id == env.world.accounts["us"][ada][0]


async def test_a_call_sent_later_is_copied_and_one_without_a_person_is_not(env: Env) -> None:
    us = env.org("us")
    mine = us.add_call(env.world.accounts["us"][env.world.bo][0], DAY, sent=False)
    stranger = us.add_call(next(a for a, (name, _) in us.account_records.items() if name == "Someone Else"), DAY,
                           sent=False)
    for call in (mine, stranger):
        result = await send_call(await env.ctx(), connection_id="us", call_id=call)
        assert result.errors == []
        assert us.call_records[call].sent
    [copy] = env.ctms.copies()
    assert (copy.call_key, copy.person_id) == (f"us:{mine}", env.world.bo)
    stranger_mirror = (await env.mirrors("medical", f"us:{stranger}"))["ctms"]
    assert stranger_mirror.state is SyncState.NO_MATCH
    assert stranger_mirror.last_error == "0 CTMS persons have the account's identifier"  # no field, no value
