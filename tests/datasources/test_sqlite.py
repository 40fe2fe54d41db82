"""The SQLite engine: WAL with synchronous=NORMAL, a connection given back to the pool inside a transaction is
rolled back (one whose transaction ended is not touched again), and reads on the caller's thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from datasources.store.db import TracedSessions, create_engine
from datasources.store.sqlite import DirectReads

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_wal_mode_with_synchronous_normal(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar_one() == 1  # NORMAL
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as conn:
            # Behind SQLAlchemy's back: only the pool's reset on return can end this transaction.
            driver = (await conn.get_raw_connection()).driver_connection
            await driver.execute("INSERT INTO t VALUES (1)")
            assert driver.in_transaction
        assert not driver.in_transaction
        async with engine.connect() as again:
            assert (await again.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_direct_reads_see_each_commit(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    engine = create_engine(f"sqlite:///{path}")
    sessions = TracedSessions(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        for n in (1, 2):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            assert await sessions.driver_rows("read", "SELECT x FROM t ORDER BY x") == [(i,) for i in range(1, n + 1)]
    finally:
        await engine.dispose()


def test_a_locked_database_sends_the_read_through_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"  # a rollback journal, where a writer's exclusive lock keeps readers out
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("CREATE TABLE t (x INTEGER)")
    locker.execute("INSERT INTO t VALUES (2)")
    direct = DirectReads(str(path))
    locker.execute("BEGIN EXCLUSIVE")
    assert direct.rows("SELECT x FROM t", ()) is None  # busy: TracedSessions then reads through the engine
    locker.execute("ROLLBACK")
    assert direct.rows("SELECT x FROM t WHERE x = ?", (2,)) == [(2,)]
    locker.close()


def test_no_direct_reads_of_a_database_in_memory() -> None:
    assert DirectReads.of(create_engine("sqlite://")) is None
    assert DirectReads.of(create_engine("postgresql://localhost/test")) is None
