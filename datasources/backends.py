"""The backends a gateway process talks to: the CTMS client and one client per enabled CRM connection."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from datasources.crm.client import CrmClient
from datasources.crm.mapping import CrmMapping
from datasources.ctms.client import CtmsClient
from datasources.ctms.mapping import CtmsMapping
from datasources.http import HttpSettings
from datasources.store.models import ConnectionRow


@dataclass(frozen=True)
class Org:
    """An enabled connection as the read and write paths need it."""

    name: str
    client: CrmClient
    ctms_field: str
    crm_field: str

    @property
    def source(self) -> str:
        return f"crm:{self.name}"


@dataclass
class Backends:
    """Long-lived clients (one aiohttp session each), reused across requests."""

    ctms: CtmsClient
    ctms_map: CtmsMapping = field(default_factory=CtmsMapping)
    crm_map: CrmMapping = field(default_factory=CrmMapping)
    crm_settings: HttpSettings = field(default_factory=HttpSettings)
    _clients: dict[tuple, CrmClient] = field(default_factory=dict)

    def org(self, row: ConnectionRow) -> Org:
        """The Org of a connection row; its client is created once per (name, URL, credentials)."""
        creds = (os.environ.get(row.client_id_env, ""), os.environ.get(row.client_secret_env, ""),
                 os.environ.get(row.username_env or "", "") or None, os.environ.get(row.password_env or "", "") or None)
        key = (row.name, row.crm_url, row.api_version, creds)
        client = self._clients.get(key)
        if client is None:
            client = CrmClient(row.name, row.crm_url, client_id=creds[0], client_secret=creds[1], username=creds[2],
                               password=creds[3], version=row.api_version, settings=self.crm_settings)
            self._clients[key] = client
        return Org(row.name, client, row.ctms_field, row.crm_field)

    async def close(self) -> None:
        await self.ctms.close()
        for client in self._clients.values():
            await client.close()
