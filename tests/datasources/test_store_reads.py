"""The store's read path on SQLite and PostgreSQL: the sync states of any mix of activities in one query."""

from __future__ import annotations

from datetime import UTC

import pytest

from datasources.store.repo import MirrorPlan, Store
from domain import SyncState

pytestmark = pytest.mark.anyio


async def test_mirror_states_of_both_kinds_match_the_rows(store: Store) -> None:
    await store.plan_mirrors("clinical", "A1", "P1", [MirrorPlan("us"), MirrorPlan("eu", SyncState.NO_MATCH)])
    await store.plan_mirrors("medical", "A1", "P1", [MirrorPlan("ctms")])  # the same id, the other kind
    await store.plan_mirrors("medical", "us:C1", "P1", [MirrorPlan("ctms", SyncState.CONFLICT, error="2 people")])
    keys = [("clinical", "A1"), ("medical", "us:C1"), ("clinical", "NONE"), ("medical", "A1")]
    states = await store.mirror_states(keys)
    rows = await store.mirrors_of("clinical", ["A1"]) + await store.mirrors_of("medical", ["us:C1"])
    assert [[(s.target, s.state, s.remote_id, s.attempts, s.last_error) for s in one] for one in states[:2]] == \
        [[(m.target, m.state, m.remote_id, m.attempts, m.last_error) for m in one] for one in rows]
    assert [s.target for s in states[0]] == ["eu", "us"] and states[0][0].state is SyncState.NO_MATCH
    assert states[1][0].last_error == "2 people" and states[2] == [] and [s.target for s in states[3]] == ["ctms"]
    assert all(s.updated_at.tzinfo is UTC or s.updated_at.utcoffset() is not None for one in states for s in one)
    # the same moment as the ORM reads it (on SQLite the one-trip read parses the stored text itself)
    assert [[s.updated_at.replace(tzinfo=None) for s in one] for one in states[:2]] == \
        [[m.updated_at.replace(tzinfo=None) for m in one] for one in rows]
