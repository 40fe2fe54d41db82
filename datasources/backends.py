"""The backends a gateway process talks to: the CTMS and each connection's org, as sources over long-lived
clients (the `Sources` of `datasources/sources.py`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from datasources.crm.client import CrmClient
from datasources.crm.mapping import CrmMapping
from datasources.crm.source import OrgSource
from datasources.ctms.client import CtmsClient
from datasources.ctms.mapping import CtmsMapping
from datasources.ctms.source import CtmsSource
from datasources.http import HttpSettings
from datasources.sources import Org
from datasources.store.models import ConnectionRow

__all__ = ["Backends", "Org"]


@dataclass
class Backends:
    """The sources, over long-lived clients (one aiohttp session each) reused across requests. `ctms` and
    `crm_client` are the clients themselves, for readiness probes.

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
        """The client of a connection's org, created once per (name, URL, credentials)."""
        secret = self.secrets.get
        creds = (secret(row.client_id_env, ""), secret(row.client_secret_env, ""),
                 secret(row.username_env or "", "") or None, secret(row.password_env or "", "") or None)
        key = (row.name, row.crm_url, row.api_version, creds)
        client = self._clients.get(key)
        if client is None:
            client = CrmClient(row.name, row.crm_url, client_id=creds[0], client_secret=creds[1], username=creds[2],
                               password=creds[3], version=row.api_version, settings=self.crm_settings)
            self._clients[key] = client
        return client

    async def close(self) -> None:
        await self.ctms.close()
        for client in self._clients.values():
            await client.close()
