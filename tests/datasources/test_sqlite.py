"""The SQLite engine: WAL with synchronous=NORMAL, and a connection given back to the pool inside a transaction is
rolled back (one whose transaction ended is not touched again)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from datasources.store.db import create_engine

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
