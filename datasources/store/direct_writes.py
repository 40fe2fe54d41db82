"""Short write transactions on a SQLite file run on the caller's thread, when no other connection is writing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from opentelemetry.trace import NoOpTracer, Tracer
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.store.db import store_span
from datasources.store.sqlite import sqlite_file

T = TypeVar("T")


def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
    # In autocommit mode, so that `_begin` says how each transaction starts. The engine's durability (WAL,
    # synchronous=NORMAL: see sqlite.py), whichever connects first. Checkpoints (which copy the WAL into the file
    # and sync both) are left to the engine's connections, off this thread, at their default 1,000 pages; this one
    # checkpoints only should the WAL reach 10,000 pages with no engine commit meanwhile, which bounds it.
    dbapi_conn.isolation_level = None
    for pragma in ("busy_timeout=0", "journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL",
                   "wal_autocheckpoint=10000"):
        dbapi_conn.execute(f"PRAGMA {pragma}")


def _begin(conn: Connection) -> None:
    # The write lock at once, or "database is locked" at once (busy_timeout=0): never a wait on this thread.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class DirectWrites:
    """One short transaction at a time through a connection of its own, on the caller's (the event loop's) thread.

    A session through the engine takes several trips to aiosqlite's thread per statement, and on a busy machine each
    waits for that thread to be scheduled; here a transaction of a few rows costs a fraction of a millisecond and no
    trip. It never waits for a lock: when another connection holds the write lock (or the write is refused), nothing
    is written and `run` returns None, for the caller to go through the engine (which waits its turn, or raises)."""

    def __init__(self, path: str, tracer: Tracer) -> None:
        self._engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
        event.listen(self._engine, "connect", _pragmas)
        event.listen(self._engine, "begin", _begin)
        self._tracer = tracer

    @classmethod
    def of(cls, engine: AsyncEngine, tracer: Tracer | None = None) -> DirectWrites | None:
        """For a SQLite file; None for an in-memory database (nothing to share) or another database."""
        path = sqlite_file(engine)
        return None if path is None else cls(path, tracer or NoOpTracer())

    def run(self, operation: str, work: Callable[[Connection], T]) -> T | None:
        """`work` on the connection of one transaction, committed; its result (never None), or None when nothing
        was written. Traced as a span `store <operation>` as the engine's sessions are (not made current)."""
        with store_span(self._tracer, operation, {"db.system.name": "sqlite", "ccgw.store.direct": True}) as span:
            try:
                with self._engine.begin() as conn:
                    return work(conn)
            except (OperationalError, IntegrityError) as exc:  # rolled back: the caller goes through the engine
                span.set_attribute("ccgw.store.declined", type(exc).__qualname__)
                return None
