"""The backends a gateway process talks to: the CTMS and each connection's org, as sources over long-lived
clients (the `Sources` of `datasources/sources.py`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from datasources.crm.client import CrmClient, JwtBearer
from datasources.crm.mapping import CrmMapping
from datasources.crm.source import OrgSource
from datasources.ctms.client import CtmsClient
from datasources.ctms.mapping import CtmsMapping
from datasources.ctms.source import CtmsSource
from datasources.http import HttpSettings
from datasources.probes import Probe
from datasources.sources import CrmSource, Org
from datasources.store.models import ConnectionRow
from domain.connections import NEEDED_VARIABLES, CrmAuth

__all__ = ["Backends", "Org"]


@dataclass(frozen=True)
class SignIn:
    """Everything a connection signs in with, read from the secrets it names."""

    client_id: str
    client_secret: str = ""
    username: str | None = None
    password: str | None = None
    bearer: JwtBearer | None = None


@dataclass
class Backends:
    """The sources, over long-lived clients (one aiohttp session each) reused across requests; also the `Probes`
    of those clients, for readiness and the worker's pacing.

    `secrets` holds the variables connections name for their credentials: the environment as it was when the
    gateway started, unless given; it is not read again per request."""

    ctms: CtmsClient
    ctms_map: CtmsMapping = field(default_factory=CtmsMapping)
    crm_map: CrmMapping = field(default_factory=CrmMapping)
    crm_settings: HttpSettings = field(default_factory=HttpSettings)
    secrets: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _clients: dict[tuple, CrmClient] = field(default_factory=dict)
    clinical: CtmsSource = field(init=False)

    def __post_init__(self) -> None:
        self.clinical = CtmsSource(self.ctms, self.ctms_map)

    def org(self, row: ConnectionRow) -> Org:
        """The Org of a connection row, over its org's client."""
        return Org(row.name, OrgSource(self.crm_client(row), self.crm_map, row.name, row.crm_field), row.ctms_field,
                   row.crm_field)

    def crm_client(self, row: ConnectionRow) -> CrmClient:
        """The client of a connection's org, created once per (name, URL, version, sign-in and credentials)."""
        key = (row.name, row.crm_url, row.api_version, self._sign_in(row))
        client = self._clients.get(key)
        if client is None:
            client = self._new_client(row, self.crm_settings)
            self._clients[key] = client
        return client

    @asynccontextmanager
    async def trial(self, row: ConnectionRow) -> AsyncIterator[CrmSource]:
        """The org of a connection over a client of its own (no token shared with the others, no retries),
        closed on exit: for checking a connection as it is configured now."""
        client = self._new_client(row, replace(self.crm_settings, retries=0))
        try:
            yield OrgSource(client, self.crm_map, row.name, row.crm_field)
        finally:
            await client.close()

    def missing_secrets(self, row: ConnectionRow) -> list[str]:
        """The variables the connection's sign-in needs that hold nothing here."""
        needed = [getattr(row, attr) for attr in NEEDED_VARIABLES[CrmAuth(row.auth_kind)]]
        return [name for name in needed if name and not self.secrets.get(name)]

    def _sign_in(self, row: ConnectionRow) -> SignIn:
        def secret(name: str | None) -> str | None:
            return self.secrets.get(name or "") or None

        kind = CrmAuth(row.auth_kind)
        if kind is CrmAuth.JWT_BEARER:
            return SignIn(secret(row.client_id_env) or "", bearer=JwtBearer(
                secret(row.private_key_env) or "", row.jwt_subject or "", row.jwt_audience))
        password_grant = kind is CrmAuth.PASSWORD
        return SignIn(secret(row.client_id_env) or "", secret(row.client_secret_env) or "",
                      secret(row.username_env) if password_grant else None,
                      secret(row.password_env) if password_grant else None)

    def _new_client(self, row: ConnectionRow, settings: HttpSettings) -> CrmClient:
        s = self._sign_in(row)
        return CrmClient(row.name, row.crm_url, client_id=s.client_id, client_secret=s.client_secret,
                         username=s.username, password=s.password, bearer=s.bearer, version=row.api_version,
                         settings=settings)

    def targets(self, connections: Sequence[ConnectionRow]) -> list[Probe]:
        """The clients readiness probes: the CTMS's, then the org's of each of these connections."""
        return [self.ctms, *(self.crm_client(row) for row in connections)]

    @property
    def pacing_s(self) -> float:
        """How long Vault last asked callers to wait (its burst budget spent); 0 when it is not throttling."""
        return self.ctms.response_delay_s

    async def close(self) -> None:
        await self.ctms.close()
        for client in self._clients.values():
            await client.close()
