"""The SQLite engine: WAL, its pragmas, no rollback of a connection whose transaction has ended, and direct reads."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

BUSY_TIMEOUT_MS = 30000
# A direct read waits at most this long for a lock (WAL readers rarely wait at all); past it, the caller reads
# through the engine instead.
DIRECT_READ_BUSY_MS = 20


def sqlite_engine(url: str) -> AsyncEngine:
    """An engine for a `sqlite+aiosqlite:///` URL, in WAL mode."""
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, pool_reset_on_return=None)

    @event.listens_for(engine.sync_engine.pool, "reset")
    def _reset(dbapi_conn, _record, state) -> None:  # noqa: ANN001
        # Every call is a round trip to the connection's thread: a connection whose transaction has ended (the
        # usual case, after a commit) is not rolled back again on its way back to the pool; one still in a
        # transaction is.
        if not state.terminate_only and dbapi_conn.driver_connection.in_transaction:
            dbapi_conn.rollback()

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit is in the WAL file before it returns, so it survives any crash of the process
        # (what the write path guards against); the WAL is synced to disk only at checkpoints, so a power loss or
        # an OS crash can lose the last commits (never corrupt the database). PostgreSQL is for production.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    return engine


def sqlite_file(engine: AsyncEngine) -> str | None:
    """The path of the engine's SQLite file; None for an in-memory database (nothing to share) or another one."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query:
        return None
    return url.database


class DirectReads:
    """Short reads of a file database on the caller's thread, with a connection of their own in autocommit mode.

    Each read sees what was committed when it starts, as through the engine, but without the four hops to
    aiosqlite's thread that a read costs there (most of its cost: an indexed read of a page of rows takes tens of
    microseconds). None where there is no file to share (an in-memory database)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def of(cls, engine: AsyncEngine) -> DirectReads | None:
        path = sqlite_file(engine)
        return None if path is None else cls(path)

    def rows(self, sql: str, params: tuple[object, ...]) -> list[Any] | None:
        """The rows, or None when the database was busy past DIRECT_READ_BUSY_MS (read through the engine then)."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self._path, timeout=DIRECT_READ_BUSY_MS / 1000, isolation_level=None,
                                             check_same_thread=False)
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return None
