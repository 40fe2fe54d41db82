"""Live-update events: the payload, the store publishing every committed change (in-process on SQLite, LISTEN/NOTIFY
on PostgreSQL), and the catch-up query a listener replays after a gap."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from datasources.events import MAX_PAYLOAD_BYTES, QUEUE_MAX, ActivityEvent, Change, EventsLost, InProcessBus, Listener
from datasources.pg_events import PgBus
from datasources.store.changes import events_since
from datasources.store.models import Intent, utcnow
from datasources.store.repo import MirrorPlan, Outcome, Store
from domain import SyncState

pytestmark = pytest.mark.anyio


async def _next(listener: Listener, n: int) -> list[ActivityEvent]:
    events = aiter(listener)
    return [await asyncio.wait_for(anext(events), 10) for _ in range(n)]


def test_a_payload_carries_ids_only_and_reads_back() -> None:
    event = ActivityEvent(Change.SYNC_CHANGED, "medical", "us:a0B000000000001", "0PE000000000003", "ctms",
                          SyncState.FAILED)
    text = event.payload()
    assert json.loads(text) == {"c": "SYNC_CHANGED", "k": "medical", "s": "us:a0B000000000001",
                                "p": "0PE000000000003", "t": "ctms", "st": "FAILED"}
    assert ActivityEvent.parse(text) == event and event.connection == "us"
    assert ActivityEvent.parse('{"c": "EXPLODED"}') is None and ActivityEvent.parse("not json") is None
    with pytest.raises(AssertionError):
        ActivityEvent(Change.CREATED, "clinical", "x" * MAX_PAYLOAD_BYTES).payload()


async def test_the_in_process_bus_hands_each_event_to_every_listener() -> None:
    bus = InProcessBus()
    event = ActivityEvent(Change.CREATED, "clinical", "0AC1", "P1")
    async with bus.listen() as one, bus.listen() as two:
        await bus.publish([event])
        await asyncio.to_thread(one.offer, event)  # from another thread too
        assert await _next(one, 2) == [event, event] and await _next(two, 1) == [event]
    assert bus.local.count == 0


async def test_a_listener_that_falls_too_far_behind_ends_instead_of_skipping_events() -> None:
    bus = InProcessBus()
    async with bus.listen() as slow, bus.listen() as keeping_up:
        events = [ActivityEvent(Change.UPDATED, "clinical", f"0AC{i}", "P1") for i in range(QUEUE_MAX + 1)]
        await bus.publish(events[:QUEUE_MAX])
        assert await _next(keeping_up, QUEUE_MAX) == events[:QUEUE_MAX]
        await bus.publish(events[QUEUE_MAX:])  # one more than `slow` can hold
        assert await _next(keeping_up, 1) == events[QUEUE_MAX:]
        with pytest.raises(EventsLost):
            await _next(slow, 1)


async def test_every_committed_change_is_published(store: Store) -> None:
    assert isinstance(store.events, PgBus if store.is_postgres else InProcessBus)
    async with store.events.listen() as listener:
        await store.plan_mirrors("clinical", "0AC1", "P1", [MirrorPlan("eu"), MirrorPlan("us")])
        first = await _next(listener, 2)
        assert {(e.change, e.source_id, e.person_id, e.target, e.state) for e in first} == {
            (Change.SYNC_CHANGED, "0AC1", "P1", "eu", SyncState.PENDING),
            (Change.SYNC_CHANGED, "0AC1", "P1", "us", SyncState.PENDING)}
        intent = await store.begin_intent(Intent(id="i-created", operation="createClinicalActivity", input_hash="h",
                                                 input_json="{}", actor="t"))
        await store.complete_intent(intent.id, "0AC2", kind="clinical", source_id="0AC2", person_id="P2",
                                    plans=[MirrorPlan("us")], change=Change.CREATED)
        assert await _next(listener, 1) == [ActivityEvent(Change.CREATED, "clinical", "0AC2", "P2")]
        [row] = await store.claim("w", limit=10, lease_s=60, source=("clinical", "0AC2"))
        await store.finish_many("w", [Outcome(row, SyncState.SYNCED, remote_id="a0X1")])
        assert await _next(listener, 1) == [ActivityEvent(Change.SYNC_CHANGED, "clinical", "0AC2", "P2", "us",
                                                          SyncState.SYNCED)]
        await store.plan_mirrors("clinical", "0AC2", None, [MirrorPlan("us")], deleted=True, change=Change.DELETED)
        assert await _next(listener, 1) == [ActivityEvent(Change.DELETED, "clinical", "0AC2", "P2")]


async def test_the_catch_up_replays_writes_and_mirror_states_since_a_moment(store: Store) -> None:
    await store.plan_mirrors("clinical", "0ACOLD", "P0", [MirrorPlan("us")])
    since = utcnow() + timedelta(milliseconds=5)
    await asyncio.sleep(0.02)
    for key, operation, given, result in [("a", "updateClinicalActivity", {"id": "0AC3"}, "0AC3"),
                                          ("b", "logCall", {"personId": "P4", "send": False}, "us:a0C1"),
                                          ("c", "logCall", {"personId": "P5", "send": True}, "us:a0C2")]:
        intent = await store.begin_intent(Intent(id=f"i-{key}", operation=operation, input_hash=key,
                                                 input_json=json.dumps(given), actor="t"))
        kind = "medical" if operation == "logCall" else "clinical"
        await store.complete_intent(intent.id, result, kind=kind, source_id=result,
                                    person_id="P3" if kind == "clinical" else None,
                                    plans=[MirrorPlan("ctms" if kind == "medical" else "us")])
    events = await events_since(store.session, since)
    assert ActivityEvent(Change.UPDATED, "clinical", "0AC3", "P3") in events
    assert ActivityEvent(Change.CREATED, "medical", "us:a0C2", "P5") in events  # the person from its input
    assert not [e for e in events if e.source_id == "0ACOLD"]  # changed before
    assert not [e for e in events if e.source_id == "us:a0C1" and e.change is not Change.SYNC_CHANGED]  # not sent
    assert ActivityEvent(Change.SYNC_CHANGED, "clinical", "0AC3", "P3", "us", SyncState.PENDING) in events
