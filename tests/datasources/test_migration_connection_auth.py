"""Migration 0003 on SQLite and PostgreSQL: connections saved before it keep signing in the same way, the database
refuses any other sign-in kind, and a downgrade that would lose a JWT bearer connection is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.store.db import alembic_config
from datasources.store.repo import Store
from domain.connections import CrmAuth

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
pytestmark = pytest.mark.anyio


async def _to(url: str, revision: str, *, down: bool = False) -> None:
    await asyncio.to_thread(command.downgrade if down else command.upgrade, alembic_config(url), revision)


async def _insert(engine: AsyncEngine, name: str, username_env: str | None, auth_kind: str | None = None) -> None:
    """A connection row as 0002 wrote it, or (with `auth_kind`) as 0003 does."""
    columns, values = ("", "") if auth_kind is None else (", auth_kind", ", :kind")
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO connection (name, crm_url, api_version, client_id_env, client_secret_env, username_env,"
            f" password_env, enabled, ctms_field, ctms_field_kind, crm_field, crm_field_kind, updated_at{columns})"
            " VALUES (:name, 'https://x.my.salesforce.com', '66.0', 'ID', 'SECRET', :user, :password, true,"
            f" 'external_id__v', 'STANDARD', 'External_ID_vod__c', 'STANDARD', :now{values})"),
            {"name": name, "user": username_env, "password": "PASSWORD" if username_env else None, "now": NOW,
             "kind": auth_kind})


async def test_connections_of_0002_keep_their_grant(database_url: str, engine: AsyncEngine) -> None:
    await _to(database_url, "0002")
    await _insert(engine, "us", None)
    await _insert(engine, "eu", "EU_USER")
    await _to(database_url, "0003")
    rows = {r.name: r for r in await Store(engine).connections()}
    assert rows["us"].auth_kind is CrmAuth.CLIENT_CREDENTIALS and rows["eu"].auth_kind is CrmAuth.PASSWORD
    assert rows["eu"].username_env == "EU_USER" and rows["us"].private_key_env is None


async def test_the_database_refuses_another_sign_in_kind(database_url: str, engine: AsyncEngine) -> None:
    await _to(database_url, "0003")
    await _insert(engine, "us", None, "CLIENT_CREDENTIALS")
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE connection SET auth_kind = 'SAML' WHERE name = 'us'"))


async def test_a_downgrade_that_would_lose_a_jwt_connection_is_refused(database_url: str,
                                                                      engine: AsyncEngine) -> None:
    await _to(database_url, "0003")
    await _insert(engine, "us", None, "CLIENT_CREDENTIALS")
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE connection SET auth_kind = 'JWT_BEARER', client_secret_env = NULL,"
                                " private_key_env = 'KEY', jwt_subject = 'u@x.example.com'"))
    with pytest.raises(RuntimeError, match="1 connections sign in with JWT bearer"):
        await _to(database_url, "0002", down=True)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE connection SET auth_kind = 'CLIENT_CREDENTIALS', client_secret_env = 'S'"))
    await _to(database_url, "0002", down=True)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT name, client_secret_env FROM connection"))).all() == [("us", "S")]
