"""Fixtures of the resolver tests: fake sources, a fresh migrated SQLite store per test, and the services over them."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from datasources.crm.mapping import EXTERNAL_ID as CRM_EXTERNAL_ID
from datasources.crm.mapping import NPI_NUMBER as CRM_NPI_NUMBER
from datasources.ctms.mapping import EXTERNAL_ID as CTMS_EXTERNAL_ID
from datasources.ctms.mapping import NPI_NUMBER as CTMS_NPI_NUMBER
from datasources.store.db import create_engine, migrate
from datasources.store.repo import Store
from resolvers.context import Services
from tests.resolvers.fakes import FakeSources
from tests.resolvers.world import MAX_ATTEMPTS, TODAY, Env, connection, seed


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database brought to the newest migration; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("store") / "migrated.db"
    migrate(f"sqlite:///{path}")
    return path


def _copy(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.fixture
async def env(migrated: Path, tmp_path: Path) -> AsyncIterator[Env]:
    path = tmp_path / "store.db"
    _copy(migrated, path)
    sources = FakeSources(secrets={"CLIENT_ID": "client id", "CLIENT_SECRET": "client secret"})
    world = seed(sources)
    services = Services(backends=sources, store=Store(create_engine(f"sqlite:///{path}")), today=lambda: TODAY,
                        inline_delivery_s=2.0, max_attempts=MAX_ATTEMPTS)
    out = Env(services, sources, world)
    await out.save_connection(connection("us", CTMS_EXTERNAL_ID, CRM_EXTERNAL_ID))
    await out.save_connection(connection("eu", CTMS_NPI_NUMBER, CRM_NPI_NUMBER))
    yield out
    assert await services.drain_inline(5.0) == 0
    await services.store.engine.dispose()
