"""The demo: the CTMS stand-in, two CRM orgs and the identity provider on loopback, and the gateway over them."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from datasources.crm import mapping as crm_fields
from datasources.ctms import mapping as ctms_fields
from datasources.store.db import create_engine, migrate
from datasources.store.models import ConnectionRow
from datasources.store.repo import Store
from emulators import crm, ctms, idp
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, ORGS, build_world, crm_jwt_keys
from emulators.server import EmulatorServer
from gateway.app import create_app
from gateway.http_protocol import OneWriteHttp
from gateway.logs import configure_logging
from gateway.settings import Settings

# (org, CTMS person field, CRM account field): one standard identifier, one custom.
DEMO_CONNECTIONS = (("us", ctms_fields.EXTERNAL_ID, crm_fields.EXTERNAL_ID),
                    ("eu", ctms_fields.NPI_NUMBER, crm_fields.NPI_NUMBER))
# The variables the demo connections name for the CRM client credentials.
DEMO_CLIENT_ID_ENV, DEMO_CLIENT_SECRET_ENV = "CCGW_DEMO_CLIENT_ID", "CCGW_DEMO_CLIENT_SECRET"
# The variable holding the private key of the demo connected app (JWT bearer), made at start: a connection can
# sign in with it as `--auth-kind JWT_BEARER --private-key-env CCGW_DEMO_JWT_PRIVATE_KEY`.
DEMO_JWT_PRIVATE_KEY_ENV = "CCGW_DEMO_JWT_PRIVATE_KEY"


@dataclass
class DemoStack:
    ctms: EmulatorServer
    orgs: dict[str, EmulatorServer]
    idp: EmulatorServer
    settings: Settings
    # What the gateway reads its credentials from (see demo_secrets).
    secrets: dict[str, str]

    def stop(self) -> None:
        for server in [self.ctms, *self.orgs.values(), self.idp]:
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


def start_idp() -> EmulatorServer:
    """The identity provider stand-in on a free loopback port; its URL is the issuer of its tokens."""
    return EmulatorServer.for_app(idp.create_app()).start()


def demo_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """The variables a gateway over the stand-ins reads its credentials from: `env`, with the stand-ins' CTMS
    user where `env` names none, the CRM client the demo connections name, and the demo connected app's private
    key (made in this process, as the stand-ins' certificate was)."""
    return {"CCGW_CTMS_USERNAME": CTMS_CREDENTIALS["username"], "CCGW_CTMS_PASSWORD": CTMS_CREDENTIALS["password"],
            **env, DEMO_CLIENT_ID_ENV: CRM_CREDENTIALS["client_id"],
            DEMO_CLIENT_SECRET_ENV: CRM_CREDENTIALS["client_secret"],
            DEMO_JWT_PRIVATE_KEY_ENV: crm_jwt_keys().private_key}


def configure(database_url: str, orgs: dict[str, EmulatorServer]) -> None:
    """Put the two demo connections in the store (their credentials are named, not stored: see demo_secrets)."""
    migrate(database_url)

    async def save() -> None:
        store = Store(create_engine(database_url))
        for name, ctms_field, crm_field in DEMO_CONNECTIONS:
            existing = await store.connection(name)
            row = existing or ConnectionRow(name=name, crm_url="", client_id_env="", client_secret_env="",
                                            ctms_field=ctms_field, ctms_field_kind=ctms_fields.field_kind(ctms_field),
                                            crm_field=crm_field, crm_field_kind=crm_fields.field_kind(crm_field))
            row.crm_url = orgs[name].url
            row.client_id_env, row.client_secret_env = DEMO_CLIENT_ID_ENV, DEMO_CLIENT_SECRET_ENV
            await store.save_connection(row)
        await store.engine.dispose()

    asyncio.run(save())


def start_demo(port: int, data_dir: Path | None, people: int = 40) -> DemoStack:
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    ctms_server, orgs = start_stand_ins(data_dir, people)
    idp_server = start_idp()
    db_dir = data_dir or Path(tempfile.mkdtemp(prefix="ccgw-demo-"))
    settings = Settings.load()
    settings.database_url = f"sqlite:///{db_dir / 'gateway.db'}"
    settings.ctms_url = ctms_server.url
    settings.oidc_issuer = idp_server.url
    configure(settings.database_url, orgs)
    return DemoStack(ctms_server, orgs, idp_server, settings, demo_secrets(os.environ))


def print_sign_in(idp_url: str, gateway_url: str) -> None:
    """The provider's URL, the demo users and their profiles, and how to call the API with a token."""
    print(f"\nIdentity provider: {idp_url}")
    print("Demo users (profile):")
    for user in idp.DEMO_USERS:
        print(f"  {user.email:<34} {user.role:<15} {user.name}")
    print(f"Get a token: ccgw token --idp {idp_url} --user {idp.DEMO_USERS[0].email}")
    print(f"Call the API: TOKEN=$(ccgw token --idp {idp_url} --user {idp.DEMO_USERS[0].email} | tail -n 1)")
    query = '{"query": "{ viewer { name email permissions } }"}'
    print(f'  curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d \'{query}\' '
          f"{gateway_url}/graphql")


def run_demo(port: int, data_dir: Path | None, people: int = 40, federation: bool = False) -> None:
    stack = start_demo(port, data_dir, people)
    stack.settings.federation = stack.settings.federation or federation
    print(f"CTMS stand-in (Vault REST):   {stack.ctms.url}")
    for name, server in stack.orgs.items():
        print(f"CRM org {name} (Salesforce REST): {server.url}")
    print(f"\nGraphiQL:  http://127.0.0.1:{port}/graphql   (an example query is preloaded)")
    if stack.settings.federation:
        print(f"Federation 2 subgraph: http://127.0.0.1:{port}/graphql   (_service {{ sdl }} needs an admin token)")
    print(f"Readiness: http://127.0.0.1:{port}/readyz")
    print_sign_in(stack.idp.url, f"http://127.0.0.1:{port}")
    print("Ctrl-C stops everything.", flush=True)
    # Readable text unless CCGW_LOG_FORMAT asks otherwise; uvicorn logs its warnings through the same handler.
    configure_logging(stack.settings.log_format if "CCGW_LOG_FORMAT" in os.environ else "text")
    config = uvicorn.Config(create_app(stack.settings, stack.secrets), host="127.0.0.1", port=port,
                            http=OneWriteHttp, log_level="warning", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    finally:
        stack.stop()
