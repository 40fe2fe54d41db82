"""The SQLite engine: WAL, its pragmas, and no rollback of a connection whose transaction has ended."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

BUSY_TIMEOUT_MS = 30000


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
