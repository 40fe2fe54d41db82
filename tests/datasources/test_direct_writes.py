"""The store's short writes on a SQLite file, on the caller's thread: the engine's durability, and through the engine
(never lost, never doubled) when another connection holds the write lock."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from datasources.store.db import create_engine, migrate
from datasources.store.direct_writes import DirectWrites
from datasources.store.models import Intent
from datasources.store.repo import Store

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    await asyncio.to_thread(migrate, url)
    s = Store(create_engine(url))
    yield s
    await s.events.close()
    await s.engine.dispose()


def _intent(key: str) -> Intent:
    return Intent(id=uuid.uuid4().hex, operation="createClinicalActivity", input_hash="h", idempotency_key=key,
                  input_json="{}", actor="test")


async def test_direct_writes_keep_the_engines_durability(store: Store) -> None:
    assert store.direct is not None
    pragmas = store.direct.run("test", lambda conn: [conn.execute(text(f"PRAGMA {p}")).scalar_one()
                                                     for p in ("journal_mode", "synchronous", "foreign_keys")])
    assert pragmas == ["wal", 1, 1]  # WAL, synchronous=NORMAL, foreign keys on


async def test_a_write_while_another_connection_writes_goes_through_the_engine_once(store: Store,
                                                                                   tmp_path: Path) -> None:
    declined: list[bool] = []
    direct = store.direct
    assert direct is not None
    run = direct.run

    def observed(operation: str, work):  # noqa: ANN001, ANN202
        result = run(operation, work)
        declined.append(result is None)
        return result

    direct.run = observed  # type: ignore[method-assign]
    await store.intent("none")  # the engine's connection made (and its pragmas run) before the lock is taken
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    first = asyncio.ensure_future(store.begin_intent(_intent("k1")))
    await asyncio.sleep(0.2)
    assert declined == [True] and not first.done()  # declined at once; the engine waits its turn
    other.execute("COMMIT")
    other.close()
    stored = await first
    assert (await store.begin_intent(_intent("k1"))).id == stored.id  # a replay finds it: written once
    assert (await store.intent(stored.id)) is not None


def test_no_direct_writes_but_to_a_sqlite_file() -> None:
    assert DirectWrites.of(create_engine("sqlite://")) is None
    assert DirectWrites.of(create_engine("postgresql://u@127.0.0.1/x")) is None
