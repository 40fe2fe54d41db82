"""The outbox per connection and direction, on SQLite and PostgreSQL: pending and failed counts, the oldest pending
mirror's age, and each delivery outcome reported as it is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from datasources.instrument import OBSERVERS, Event, MirrorFinished
from datasources.store.backlog import TO_CRM, TO_CTMS, Backlog, backlog, mirror_route
from datasources.store.models import Mirror
from datasources.store.repo import MirrorPlan, Outcome, Store
from domain import SyncState

pytestmark = pytest.mark.anyio


async def test_pending_failed_and_the_oldest_age_by_connection_and_direction(store: Store) -> None:
    now = datetime.now(UTC)
    async with store.session() as s:
        for source_id, target, state, age_min in [
            ("A1", "us", SyncState.PENDING, 30), ("A2", "us", SyncState.PENDING, 5), ("A3", "us", SyncState.FAILED, 1),
            ("A1", "eu", SyncState.SYNCED, 60), ("us:00T1", "ctms", SyncState.PENDING, 12),
            ("eu:00T2", "ctms", SyncState.FAILED, 2), ("eu:00T3", "ctms", SyncState.FAILED, 2),
        ]:
            s.add(Mirror(source_kind="medical" if target == "ctms" else "clinical", source_id=source_id,
                         target=target, state=state, updated_at=now - timedelta(minutes=age_min)))
        await s.commit()
    rows = {(b.connection, b.direction): b for b in await backlog(store, now=now)}
    assert set(rows) == {("us", TO_CRM), ("us", TO_CTMS), ("eu", TO_CTMS)}  # eu -> CRM has nothing waiting
    assert rows[("us", TO_CRM)] == Backlog("us", TO_CRM, pending=2, failed=1, oldest_pending_s=30 * 60)
    assert rows[("us", TO_CTMS)] == Backlog("us", TO_CTMS, pending=1, failed=0, oldest_pending_s=12 * 60)
    assert rows[("eu", TO_CTMS)] == Backlog("eu", TO_CTMS, pending=0, failed=2, oldest_pending_s=0.0)


async def test_the_age_counts_from_when_a_mirror_started_waiting_not_from_its_last_retry(store: Store) -> None:
    await store.plan_mirrors("clinical", "R1", "P1", [MirrorPlan("us")])
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with store.session() as s:  # planned an hour ago
        row = (await s.execute(select(Mirror).where(Mirror.source_id == "R1"))).scalar_one()
        row.pending_since = row.updated_at = hour_ago
        await s.commit()
    for _ in range(2):  # retried since, and still failing
        [claimed] = await store.claim("w", limit=10, lease_s=60)
        await store.finish_many("w", [Outcome(claimed, SyncState.PENDING, error="us is unavailable",
                                              retry_at=datetime.now(UTC))])
    [us] = [b for b in await backlog(store) if b.connection == "us"]
    assert us.pending == 1 and us.oldest_pending_s >= 3600
    [claimed] = await store.claim("w", limit=10, lease_s=60)
    await store.finish_many("w", [Outcome(claimed, SyncState.SYNCED, remote_id="X", delivered_version=1)])
    assert [b for b in await backlog(store) if b.connection == "us"] == []
    await store.plan_mirrors("clinical", "R1", "P1", [MirrorPlan("us")])  # a new change: waiting afresh
    [us] = [b for b in await backlog(store) if b.connection == "us"]
    assert us.oldest_pending_s < 60


async def test_each_recorded_outcome_is_reported(store: Store) -> None:
    seen: list[Event] = []
    OBSERVERS.add(seen.append)
    try:
        for source_id in ("B1", "B2", "B3"):
            await store.plan_mirrors("clinical", source_id, "P1", [MirrorPlan("us")])
        rows = {r.source_id: r for r in await store.claim("w", limit=10, lease_s=60)}
        await store.plan_mirrors("clinical", "B3", "P1", [MirrorPlan("us")])  # a newer change meanwhile
        await store.finish_many("w", [
            Outcome(rows["B1"], SyncState.SYNCED, remote_id="X1", delivered_version=1),
            Outcome(rows["B2"], SyncState.PENDING, error="org unavailable", retry_at=datetime.now(UTC)),
            Outcome(rows["B3"], SyncState.SYNCED, remote_id="X3", delivered_version=1),
        ])
        await store.finish_many("other-worker", [Outcome(rows["B1"], SyncState.FAILED)])  # not its claim: nothing
    finally:
        OBSERVERS.remove(seen.append)
    assert [e for e in seen if isinstance(e, MirrorFinished)] == [
        MirrorFinished("B1", "us", "synced"), MirrorFinished("B2", "us", "retry"),
        MirrorFinished("B3", "us", "requeued")]


def test_a_calls_mirror_belongs_to_the_org_it_came_from() -> None:
    assert mirror_route("eu:00T0E000000001AAAA", "ctms") == ("eu", TO_CTMS)
    assert mirror_route("0AC000000000001", "us") == ("us", TO_CRM)
