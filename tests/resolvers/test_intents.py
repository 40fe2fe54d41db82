"""Idempotent writes: a replay under the same key returns the first result and writes nothing; the same key with
another input is refused; a write whose source write never happened is retried under the same intent."""

from __future__ import annotations

import pytest

from datasources.errors import SourceUnavailable
from domain import IntentStatus, SyncState
from resolvers.recovery import resolve_intents
from tests.resolvers.world import CLINICAL_LEAD, Env

pytestmark = pytest.mark.anyio


async def test_a_replay_returns_the_first_result_and_writes_nothing(env: Env) -> None:
    first = await env.create(env.world.ada, key="req-1")
    again = await env.create(env.world.ada, key="req-1")
    assert first.activity is not None and again.activity is not None
    assert again.activity.id == first.activity.id
    assert again.activity.subject == first.activity.subject == "Enrollment update"
    assert env.ctms.counts["create_clinical"] == 1
    assert [a.id for a in env.ctms.clinical_activities()] == [first.activity.id]
    assert [env.org(n).interaction_records[first.activity.id].writes for n in ("us", "eu")] == [1, 1]
    [intent] = await env.intents()
    assert (intent.status, intent.result_id) == (IntentStatus.DONE, first.activity.id)


async def test_the_same_key_with_another_input_is_refused(env: Env) -> None:
    first = await env.create(env.world.ada, key="req-1")
    other = await env.create(env.world.ada, key="req-1", subject="Something else")
    assert other.activity is None
    assert [(e.field, e.code) for e in other.errors] == [(("input", "idempotencyKey"), "IDEMPOTENCY_KEY_REUSED")]
    assert env.ctms.counts["create_clinical"] == 1
    assert [a.subject for a in env.ctms.clinical_activities()] == ["Enrollment update"]
    assert first.activity is not None and len(await env.intents()) == 1


async def test_keys_belong_to_their_user(env: Env) -> None:
    mine = await env.create(env.world.ada, key="req-1")
    theirs = await env.create(env.world.ada, key="req-1", actor=CLINICAL_LEAD)
    assert mine.activity is not None and theirs.activity is not None
    assert mine.activity.id != theirs.activity.id
    assert theirs.activity.owner == "Clara Oswald (clara.oswald@ctms.example.com)"
    assert len(env.ctms.clinical_activities()) == 2


async def test_a_refused_write_is_retried_under_the_same_intent(env: Env) -> None:
    env.ctms.refuse(env.world.ada, "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    refused = await env.create(env.world.ada, key="req-1")
    assert refused.activity is None
    assert [(e.field, e.code) for e in refused.errors] == [(("input",), "FIELD_CUSTOM_VALIDATION_EXCEPTION")]
    [intent] = await env.intents()
    assert intent.status is IntentStatus.ABANDONED
    assert env.ctms.clinical_activities() == [] and await env.mirrors("clinical", "any") == {}

    env.ctms.accept(env.world.ada)
    retried = await env.create(env.world.ada, key="req-1")
    assert retried.activity is not None and retried.errors == []
    [after] = await env.intents()
    assert (after.id, after.status, after.result_id) == (intent.id, IntentStatus.DONE, retried.activity.id)
    assert env.ctms.records[retried.activity.id].marker == intent.id
    assert len(env.ctms.clinical_activities()) == 1
    assert await env.states("clinical", retried.activity.id) == {"us": SyncState.SYNCED, "eu": SyncState.SYNCED}


async def test_a_write_the_ctms_never_received_is_written_once_by_the_replay(env: Env) -> None:
    env.ctms.fail("create_clinical", times=1)
    with pytest.raises(SourceUnavailable):
        await env.create(env.world.ada, key="req-1")
    [pending] = await env.intents()
    assert pending.status is IntentStatus.PENDING
    # Recovery finds nothing written under the intent: abandoned, so that the replay may write it.
    assert await resolve_intents(env.services) == 1
    [abandoned] = await env.intents()
    assert abandoned.status is IntentStatus.ABANDONED and env.ctms.clinical_activities() == []

    replay = await env.create(env.world.ada, key="req-1")
    assert replay.activity is not None
    [done] = await env.intents()
    assert (done.id, done.status, done.result_id) == (pending.id, IntentStatus.DONE, replay.activity.id)
    assert [a.id for a in env.ctms.clinical_activities()] == [replay.activity.id]
    third = await env.create(env.world.ada, key="req-1")
    assert third.activity is not None and third.activity.id == replay.activity.id
    assert len(env.ctms.clinical_activities()) == 1 and env.ctms.counts["create_clinical"] == 2
