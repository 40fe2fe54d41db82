"""The admin view's lists on SQLite and PostgreSQL: the audit trail paged newest first and filtered by user (any case,
no wildcards) and action in the query; FAILED mirrors paged, by connection, and without calls when asked."""

from __future__ import annotations

import pytest

from datasources.store.admin_lists import audit_page, failed_mirrors
from datasources.store.models import Mirror
from datasources.store.repo import Store
from domain import SyncState

pytestmark = pytest.mark.anyio
ADA = "sub-1 (ada.admin@ctms.example.com)"
CLARA = "sub-2 (clara.oswald@ctms.example.com)"
ODD = "sub-3 (100%_sure@ctms.example.com)"


async def test_audit_pages_newest_first_filtered_by_user_and_action(store: Store) -> None:
    for i, (actor, operation) in enumerate([(ADA, "retrySync"), (CLARA, "createClinicalActivity"), (ADA, "retrySync"),
                                             (ADA, "updateConnection"), (CLARA, "retrySync"), (ADA, "retrySync"),
                                             (ODD, "logCall")]):
        await store.audit(actor, operation, f"T{i}", "ok")
    everything = await audit_page(store, 100)
    assert [e.target_id for e in everything] == [f"T{i}" for i in range(6, -1, -1)]

    first = await audit_page(store, 2, user="ADA.Admin", action="retrySync")
    assert [e.target_id for e in first] == ["T5", "T2"]
    rest = await audit_page(store, 2, before_id=first[-1].id, user="ADA.Admin", action="retrySync")
    assert [e.target_id for e in rest] == ["T0"]
    assert [e.target_id for e in await audit_page(store, 10, user="clara")] == ["T4", "T1"]
    assert [e.target_id for e in await audit_page(store, 10, action="updateConnection")] == ["T3"]
    assert await audit_page(store, 10, action="retry") == [], "the action is matched whole"
    # LIKE's wildcards in the user's text are matched as themselves.
    assert [e.target_id for e in await audit_page(store, 10, user="100%_")] == ["T6"]
    assert await audit_page(store, 10, user="a%n") == []
    assert [e.target_id for e in await audit_page(store, 10, user="_")] == ["T6"]


async def test_failed_mirrors_by_connection_and_kind(store: Store) -> None:
    async with store.session() as s:
        for source_id, target, state in [
            ("0AC000000000001", "us", SyncState.FAILED), ("0AC000000000002", "eu", SyncState.FAILED),
            ("0AC000000000003", "us", SyncState.SYNCED), ("us:00T000000000001", "ctms", SyncState.FAILED),
            ("eu:00T000000000002", "ctms", SyncState.PENDING), ("0AC000000000004", "us", SyncState.FAILED),
        ]:
            s.add(Mirror(source_kind="medical" if target == "ctms" else "clinical", source_id=source_id,
                         target=target, state=state, last_error="org unavailable"))
        await s.commit()
    ids = [m.source_id for m in await failed_mirrors(store, 10)]
    assert ids == ["0AC000000000004", "us:00T000000000001", "0AC000000000002", "0AC000000000001"]
    page = await failed_mirrors(store, 2)
    assert [m.source_id for m in await failed_mirrors(store, 10, before_id=page[-1].id)] == ids[2:]
    assert [m.source_id for m in await failed_mirrors(store, 10, connection="us")] == [
        "0AC000000000004", "us:00T000000000001", "0AC000000000001"]
    assert [m.source_id for m in await failed_mirrors(store, 10, connection="eu")] == ["0AC000000000002"]
    assert [m.source_id for m in await failed_mirrors(store, 10, include_medical=False)] == [
        "0AC000000000004", "0AC000000000002", "0AC000000000001"]
