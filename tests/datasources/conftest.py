"""Fixtures of the store tests: each runs on SQLite and on PostgreSQL (a throwaway database, skipped when the server
is unreachable), against a fresh store brought to the newest migration, or an engine left for the test to migrate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.store.db import create_engine, migrate
from datasources.store.repo import Store
from tests import postgres


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not postgres.available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with postgres.fresh_database() as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    await asyncio.to_thread(migrate, database_url)
    s = Store(create_engine(database_url))
    yield s
    await s.events.close()
    await s.engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the database as it is (no migration run): the migration tests bring it where they need."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()
