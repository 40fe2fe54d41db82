"""Engine and sessions for SQLite (default) or PostgreSQL (by URL), and migrations to head."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import NoOpTracer, Span, SpanKind, Tracer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from datasources.store.sqlite import DirectReads, sqlite_engine
from datasources.trace_context import mark_failed

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration (tests/datasources/test_migrations.py checks it is Alembic's head): a database already there
# is not migrated again, and a process that serves one never loads Alembic (with Mako and Pygments, some 20 MiB
# of every gateway process's memory).
HEAD_REVISION = "0007"


def async_url(url: str) -> str:
    """Accept plain sqlite:/// and postgresql:// URLs and pick the async driver."""
    if url.startswith("sqlite:///") or url == "sqlite://":
        return url.replace("sqlite:", "sqlite+aiosqlite:", 1)
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def create_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if url.startswith("sqlite"):
        return sqlite_engine(url)
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class TracedSessions:
    """Sessions of one engine, each `async with` block (one transaction) traced as a span `store <method>`.

    The span records the database system and, on failure, the error's type: never a statement's parameters or an
    error's text (SQLAlchemy's quote them). It is not made current: the caller's span stays the parent of what the
    block does, so that a change planned inside is linked to the request that planned it."""

    def __init__(self, engine: AsyncEngine, tracer: Tracer | None = None) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine)
        self._tracer = tracer or NoOpTracer()
        self._system = engine.dialect.name
        self._direct = DirectReads.of(engine)

    def __call__(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        # The span is named after the method that opens the transaction, the caller's frame.
        return self._traced(sys._getframe(1).f_code.co_name)

    @contextlib.asynccontextmanager
    async def _traced(self, operation: str) -> AsyncIterator[AsyncSession]:
        async with self._span(operation):
            async with self._sessions() as session:
                yield session

    async def driver_rows(self, operation: str, sql: str, *params: object) -> list[Any]:
        """The rows of one read in the driver's own SQL (`?` marks on SQLite, `$1`… on PostgreSQL), as the driver
        returns them (no type conversion), outside a transaction; traced like a session.

        On a SQLite file, on this thread (DirectReads) where a session's execute takes four trips to aiosqlite's
        thread; on PostgreSQL one round trip where a session adds BEGIN and ROLLBACK: on the read path of every
        request that is most of what the read costs."""
        async with self._span(operation):
            if self._direct is not None and (rows := self._direct.rows(sql, params)) is not None:
                return rows
            return await self._engine_rows(sql, params)

    async def _engine_rows(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        async with self._engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            if self._system == "sqlite":
                return list(await driver.execute_fetchall(sql, params))
            return list(await driver.fetch(sql, *params))

    @contextlib.asynccontextmanager
    async def _span(self, operation: str) -> AsyncIterator[None]:
        with store_span(self._tracer, operation, {"db.system.name": self._system}):
            yield


@contextlib.contextmanager
def store_span(tracer: Tracer, operation: str, attributes: dict[str, Any]) -> Iterator[Span]:
    """A span `store <operation>` (not made current) recording, on failure, the error's type only."""
    span = tracer.start_span(f"store {operation}", kind=SpanKind.CLIENT, attributes=attributes)
    try:
        yield span
    except BaseException as exc:
        mark_failed(span, exc)
        raise
    finally:
        span.end()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database schema to the newest migration (blocking; call before the event loop or in a thread)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


async def migrate_async(url: str) -> None:
    """migrate, in a thread, unless the database is at HEAD_REVISION already."""
    if await revision(url) != HEAD_REVISION:
        await asyncio.to_thread(migrate, url)


async def revision(url: str) -> str | None:
    """The migration the database is at; None before the first."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    except DBAPIError:  # no alembic_version table yet
        return None
    finally:
        await engine.dispose()
