"""The demo: the CTMS stand-in and two CRM orgs with seeded data on loopback, and the gateway over them."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from datasources.store.db import create_engine, migrate
from datasources.store.models import ConnectionRow
from datasources.store.repo import Store
from emulators import crm, ctms
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, ORGS, build_world
from emulators.server import EmulatorServer
from gateway.app import create_app
from gateway.settings import Settings
from resolvers.connections import field_kind

# (org, CTMS person field, CRM account field): one standard identifier, one custom.
DEMO_CONNECTIONS = (("us", "external_id__v", "External_ID_vod__c"), ("eu", "npi_number__c", "NPI_Number__c"))


@dataclass
class DemoStack:
    ctms: EmulatorServer
    orgs: dict[str, EmulatorServer]
    settings: Settings

    def stop(self) -> None:
        for server in [self.ctms, *self.orgs.values()]:
            server.stop()


def start_stand_ins(data_dir: Path | None, people: int = 40) -> tuple[EmulatorServer, dict[str, EmulatorServer]]:
    world = build_world(people)

    def db(name: str) -> str:
        return f"sqlite:///{data_dir / name}.db" if data_dir else "sqlite://"

    def serve(app) -> EmulatorServer:  # noqa: ANN001
        return EmulatorServer.for_app(app).start()

    ctms_server = serve(ctms.create_app(world, db_url=db("ctms")))
    orgs = {org: serve(crm.create_app(org, world, db_url=db(f"crm-{org}"))) for org in ORGS}
    return ctms_server, orgs


def configure(database_url: str, orgs: dict[str, EmulatorServer]) -> None:
    """Put the credentials in this process's environment and the two connections in the store."""
    os.environ.setdefault("CCGW_CTMS_USERNAME", CTMS_CREDENTIALS["username"])
    os.environ.setdefault("CCGW_CTMS_PASSWORD", CTMS_CREDENTIALS["password"])
    os.environ["CCGW_DEMO_CLIENT_ID"] = CRM_CREDENTIALS["client_id"]
    os.environ["CCGW_DEMO_CLIENT_SECRET"] = CRM_CREDENTIALS["client_secret"]
    migrate(database_url)

    async def save() -> None:
        store = Store(create_engine(database_url))
        for name, ctms_field, crm_field in DEMO_CONNECTIONS:
            existing = await store.connection(name)
            row = existing or ConnectionRow(name=name, crm_url="", client_id_env="", client_secret_env="",
                                            ctms_field=ctms_field, ctms_field_kind=field_kind(ctms_field),
                                            crm_field=crm_field, crm_field_kind=field_kind(crm_field))
            row.crm_url = orgs[name].url
            row.client_id_env, row.client_secret_env = "CCGW_DEMO_CLIENT_ID", "CCGW_DEMO_CLIENT_SECRET"
            await store.save_connection(row)
        await store.engine.dispose()

    asyncio.run(save())


def start_demo(port: int, data_dir: Path | None, people: int = 40) -> DemoStack:
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    ctms_server, orgs = start_stand_ins(data_dir, people)
    db_dir = data_dir or Path(tempfile.mkdtemp(prefix="ccgw-demo-"))
    settings = Settings.load()
    settings.database_url = f"sqlite:///{db_dir / 'gateway.db'}"
    settings.ctms_url = ctms_server.url
    configure(settings.database_url, orgs)
    return DemoStack(ctms_server, orgs, settings)


def run_demo(port: int, data_dir: Path | None, people: int = 40) -> None:
    stack = start_demo(port, data_dir, people)
    print(f"CTMS stand-in (Vault REST):   {stack.ctms.url}")
    for name, server in stack.orgs.items():
        print(f"CRM org {name} (Salesforce REST): {server.url}")
    print(f"\nGraphiQL:  http://127.0.0.1:{port}/graphql   (an example query is preloaded)")
    print(f"Readiness: http://127.0.0.1:{port}/readyz")
    print(f"Acting as: {stack.settings.default_user}\nCtrl-C stops everything.")
    config = uvicorn.Config(create_app(stack.settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    finally:
        stack.stop()
