"""The `ccgw` command: serve, worker, demo, and the stand-ins."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer

app = typer.Typer(help="GraphQL gateway over a CTMS and medical CRM orgs.", no_args_is_help=True)
emulate = typer.Typer(help="Run a stand-in (CTMS or CRM org) on loopback.", no_args_is_help=True)
app.add_typer(emulate, name="emulate")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, config: str | None = None, worker: bool = True) -> None:
    """Production: connections from the store, settings from CCGW_* variables or --config."""
    import uvicorn

    from gateway.app import create_app
    from gateway.settings import Settings

    settings = Settings.load(config)
    settings.worker = worker
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command()
def worker(config: str | None = None) -> None:
    """Run the outbox worker and the incremental sync on their own."""
    from datasources.store.db import migrate
    from gateway.app import build_services
    from gateway.settings import Settings
    from gateway.worker import run_worker

    logging.basicConfig(level=logging.INFO)
    settings = Settings.load(config)
    migrate(settings.database_url)

    async def main() -> None:
        services = build_services(settings)
        try:
            await run_worker(services, settings)
        finally:
            await services.backends.close()

    asyncio.run(main())


@app.command()
def demo(port: int = 8000, data: Path | None = typer.Option(None, help="keep the demo's state here between runs"),
         people: int = 40) -> None:
    """Stand-ins with seeded data, the gateway over them, GraphiQL at /graphql."""
    from gateway.demo import run_demo

    run_demo(port, data, people)


@emulate.command("ctms")
def emulate_ctms(port: int = 8101, people: int = 40, db: str | None = None) -> None:
    """The Vault REST stand-in."""
    from emulators import ctms
    from emulators.seed import build_world
    from emulators.server import EmulatorServer

    app_ = ctms.create_app(build_world(people), db_url=f"sqlite:///{db}" if db else "sqlite://")
    server = EmulatorServer(app_, port)
    app_.state.knobs.on_outage_change = lambda outage: server.set_outage(outage)
    print(f"CTMS stand-in on {server.url}")
    server.serve_forever()


@emulate.command("crm")
def emulate_crm(org: str = "us", port: int = 8201, people: int = 40, db: str | None = None) -> None:
    """A Salesforce REST stand-in for one org."""
    from emulators import crm
    from emulators.seed import build_world
    from emulators.server import EmulatorServer

    kwargs = {"db_url": f"sqlite:///{db}"} if db else {}
    app_ = crm.create_app(org, build_world(people), **kwargs)
    server = EmulatorServer(app_, port)
    app_.state.knobs.on_outage_change = lambda outage: server.set_outage(outage)
    print(f"CRM org {org} on {server.url}")
    server.serve_forever()
