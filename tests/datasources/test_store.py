"""The store on SQLite and PostgreSQL: migrations, claims that never overlap, coalescing, idempotency keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from datasources.store.models import LAST_ERROR_MAX, OWNER_KEY_CHARS, STORED_KEY_MAX, Intent
from datasources.store.repo import MirrorPlan, Outcome, Store
from domain import IntentStatus, SyncState
from domain.validation import IDEMPOTENCY_KEY_MAX

pytestmark = pytest.mark.anyio


async def test_concurrent_workers_never_claim_the_same_mirror(store: Store) -> None:
    for i in range(60):
        await store.plan_mirrors("clinical", f"A{i:03d}", "P1", [MirrorPlan("us")])
    ids: list[int | None] = []
    for _ in range(10):
        claims = await asyncio.gather(*(store.claim(f"w{n}", limit=20, lease_s=60) for n in range(4)))
        ids += [m.id for batch in claims for m in batch]
    assert len(ids) == len(set(ids)) == 60
    assert await store.claim("late", limit=10, lease_s=60) == []


async def test_a_change_while_delivering_keeps_the_mirror_pending(store: Store) -> None:
    await store.plan_mirrors("clinical", "A1", "P1", [MirrorPlan("us", match_id="001")])
    [row] = await store.claim("w", limit=10, lease_s=60)
    await store.plan_mirrors("clinical", "A1", "P1", [MirrorPlan("us", match_id="001")])  # an update coalesces
    await store.finish(row, worker="w", state=SyncState.SYNCED, remote_id="a1V", delivered_version=row.version)
    [[after]] = await store.mirrors_of("clinical", ["A1"])
    assert after.state is SyncState.PENDING and after.version == 2 and after.remote_id == "a1V"
    [again] = await store.claim("w", limit=10, lease_s=60)
    await store.finish(again, worker="w", state=SyncState.SYNCED, delivered_version=again.version)
    [[done]] = await store.mirrors_of("clinical", ["A1"])
    assert done.state is SyncState.SYNCED and done.attempts == 2


async def test_recorded_outcomes_are_returned_as_stored(store: Store) -> None:
    for source_id in ("C1", "C2", "C3", "C4", "C5"):
        await store.plan_mirrors("clinical", source_id, "P1", [MirrorPlan("us", match_id="001")])
    rows = {r.source_id: r for r in await store.claim("w", limit=10, lease_s=60)}
    await store.plan_mirrors("clinical", "C3", "P1", [MirrorPlan("us", match_id="001")])  # a change meanwhile
    assert await store.finish_many("other", [Outcome(rows["C5"], SyncState.SYNCED)]) == 0  # not its claim
    recorded = await store.record_outcomes("w", [
        Outcome(rows["C1"], SyncState.SYNCED, remote_id="X1", delivered_version=1),
        Outcome(rows["C2"], SyncState.PENDING, error="org unavailable", retry_at=datetime(2030, 1, 1, tzinfo=UTC)),
        Outcome(rows["C3"], SyncState.SYNCED, remote_id="X3", delivered_version=1),
        Outcome(rows["C4"], SyncState.FAILED, error="x" * (LAST_ERROR_MAX + 5), attempted=False),
    ])
    states = [s for [s] in await store.mirror_states([("clinical", k) for k in ("C1", "C2", "C3", "C4")])]
    assert recorded == states
    assert [(m.state, m.remote_id, m.attempts) for m in recorded] == [
        (SyncState.SYNCED, "X1", 1), (SyncState.PENDING, None, 1), (SyncState.PENDING, "X3", 1),
        (SyncState.FAILED, None, 0)]
    assert len(recorded[3].last_error or "") == LAST_ERROR_MAX


async def test_a_known_idempotency_key_returns_the_first_intent(store: Store) -> None:
    first = await store.begin_intent(Intent(id="i1", operation="op", idempotency_key="u:k", input_hash="h",
                                            input_json="{}", actor="u"))
    second = await store.begin_intent(Intent(id="i2", operation="op", idempotency_key="u:k", input_hash="h",
                                             input_json="{}", actor="u"))
    assert first.id == second.id == "i1"
    await store.complete_intent("i1", "R1", kind="clinical", source_id="R1", plans=[MirrorPlan("us")])
    await store.complete_intent("i1", "R2", kind="clinical", source_id="R2", plans=[MirrorPlan("us")])
    assert (await store.intent("i1")).result_id == "R1"
    assert [len(rows) for rows in await store.mirrors_of("clinical", ["R1", "R2"])] == [1, 0]


async def test_counts_and_retry_of_failed_mirrors(store: Store) -> None:
    await store.plan_mirrors("clinical", "A1", "P1", [MirrorPlan("us"), MirrorPlan("eu", SyncState.NO_MATCH)])
    [row] = await store.claim("w", limit=10, lease_s=60, target="us")
    await store.finish(row, worker="w", state=SyncState.FAILED, error="boom")
    assert (await store.mirror_counts())["us"] == {SyncState.PENDING: 0, SyncState.FAILED: 1}
    assert await store.retry_failed("clinical", "A1") == 1
    assert (await store.mirror_counts())["us"] == {SyncState.PENDING: 1, SyncState.FAILED: 0}


async def test_a_long_error_is_clipped_to_its_column(store: Store) -> None:
    long = "no account has NPI_Number__c = " + "9" * (2 * LAST_ERROR_MAX)
    await store.plan_mirrors("clinical", "A1", "P1", [MirrorPlan("us"), MirrorPlan("eu", SyncState.NO_MATCH, long)])
    [row] = await store.claim("w", limit=10, lease_s=60, target="us")
    await store.finish(row, worker="w", state=SyncState.FAILED, error="x" * (LAST_ERROR_MAX + 1))
    [[eu, us]] = await store.mirrors_of("clinical", ["A1"])
    assert (eu.last_error, us.last_error) == (long[:LAST_ERROR_MAX], "x" * LAST_ERROR_MAX)


async def test_the_longest_idempotency_key_fits_its_column(store: Store) -> None:
    key = f"{'a' * OWNER_KEY_CHARS}:{'k' * IDEMPOTENCY_KEY_MAX}"
    assert len(key) <= STORED_KEY_MAX
    stored = await store.begin_intent(Intent(id="i1", operation="op", idempotency_key=key, input_hash="h",
                                             input_json="{}", actor="u" * 255))
    assert stored.idempotency_key == key and stored.status is IntentStatus.PENDING
    await store.complete_intent("i1", "R1")
    assert (await store.intent("i1")).status is IntentStatus.DONE
