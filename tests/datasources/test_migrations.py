"""Migrations on SQLite and PostgreSQL: rows written before states were enums keep their values, the database refuses
any other state, and the models agree with the schema the migrations build."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from datasources.store import db
from datasources.store.db import HEAD_REVISION, alembic_config, migrate_async, revision
from datasources.store.repo import Store
from domain import IntentStatus, SyncState

OLD_MIRRORS = [("A1", "us", "PENDING"), ("A1", "eu", "SYNCED"), ("A2", "us", "FAILED"), ("A3", "us", "NO_MATCH"),
               ("A4", "eu", "CONFLICT")]
OLD_INTENTS = [("i1", "pending"), ("i2", "done"), ("i3", "abandoned")]
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


pytestmark = pytest.mark.anyio


async def _upgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def _insert_mirror(engine: AsyncEngine, source_id: str, target: str, state: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO mirror (source_kind, source_id, target, state, attempts, version, delivered_version, deleted,"
            " next_attempt_at, updated_at) VALUES ('clinical', :sid, :target, :state, 0, 1, 0, false, :now, :now)"),
            {"sid": source_id, "target": target, "state": state, "now": NOW})


async def _insert_intent(engine: AsyncEngine, intent_id: str, status: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO intent (id, operation, input_hash, input_json, actor, status, created_at, updated_at)"
            " VALUES (:id, 'createClinicalActivity', 'h', '{}', 'u', :status, :now, :now)"),
            {"id": intent_id, "status": status, "now": NOW})


async def test_rows_of_0001_keep_their_states_and_read_as_enums(database_url: str, engine: AsyncEngine) -> None:
    await _upgrade(database_url, "0001")
    for row in OLD_MIRRORS:
        await _insert_mirror(engine, *row)
    for row in OLD_INTENTS:
        await _insert_intent(engine, *row)
    await _upgrade(database_url, "head")

    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT source_id, target, state FROM mirror ORDER BY id"))).all()
        statuses = (await conn.execute(text("SELECT id, status FROM intent ORDER BY id"))).all()
    assert [tuple(r) for r in stored] == OLD_MIRRORS  # the text in the column is what it was
    assert [tuple(r) for r in statuses] == OLD_INTENTS

    store = Store(engine)
    mirrors = [m for rows in await store.mirrors_of("clinical", ["A1", "A2", "A3", "A4"]) for m in rows]
    assert {(m.source_id, m.target): m.state for m in mirrors} == {
        ("A1", "us"): SyncState.PENDING, ("A1", "eu"): SyncState.SYNCED, ("A2", "us"): SyncState.FAILED,
        ("A3", "us"): SyncState.NO_MATCH, ("A4", "eu"): SyncState.CONFLICT}
    assert [(await store.intent(i)).status for i, _ in OLD_INTENTS] == [
        IntentStatus.PENDING, IntentStatus.DONE, IntentStatus.ABANDONED]
    assert [i.id for i in await store.pending_intents()] == ["i1"]
    assert await store.pending_count() == 1
    assert (await store.mirror_counts())["us"] == {SyncState.PENDING: 1, SyncState.FAILED: 1}


@pytest.mark.parametrize("state", ["BOGUS", "pending", "synced", ""])
async def test_the_database_refuses_a_state_outside_the_enum(database_url: str, engine: AsyncEngine,
                                                              state: str) -> None:
    await _upgrade(database_url, "head")
    await _insert_mirror(engine, "A1", "us", "PENDING")
    with pytest.raises(IntegrityError):
        await _insert_mirror(engine, "A2", "us", state)
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE mirror SET state = :s WHERE source_id = 'A1'"), {"s": state})


@pytest.mark.parametrize("status", ["BOGUS", "PENDING", "DONE", ""])
async def test_the_database_refuses_an_intent_status_outside_the_enum(database_url: str, engine: AsyncEngine,
                                                                      status: str) -> None:
    await _upgrade(database_url, "head")
    with pytest.raises(IntegrityError):
        await _insert_intent(engine, "i9", status)


async def test_downgrade_to_0001_and_back_keeps_the_rows(database_url: str, engine: AsyncEngine) -> None:
    await _upgrade(database_url, "head")
    await _insert_mirror(engine, "A1", "us", "NO_MATCH")
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0001")
    await _insert_mirror(engine, "A2", "us", "BOGUS")  # without the constraint, as 0001 was
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM mirror WHERE state = 'BOGUS'"))
    await _upgrade(database_url, "head")
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT state FROM mirror"))).scalars().all() == ["NO_MATCH"]


async def test_the_models_match_the_migrated_schema(database_url: str, engine: AsyncEngine) -> None:
    await _upgrade(database_url, "head")
    async with engine.connect() as conn:
        diffs = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), SQLModel.metadata))
    assert diffs == []


async def test_head_revision_is_alembics_and_a_database_there_is_not_migrated_again(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ScriptDirectory.from_config(alembic_config(database_url)).get_current_head() == HEAD_REVISION
    assert await revision(database_url) is None
    await migrate_async(database_url)
    assert await revision(database_url) == HEAD_REVISION
    runs: list[str] = []
    monkeypatch.setattr(db, "migrate", runs.append)
    await migrate_async(database_url)
    assert runs == []
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0006")
    await migrate_async(database_url)  # behind: migrated again
    assert runs == [database_url]
