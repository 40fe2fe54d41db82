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


PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@emulate.command("ctms", context_settings=PASS_THROUGH, add_help_option=False)
def emulate_ctms(ctx: typer.Context) -> None:
    """The Vault REST stand-in (--port, --people, --db, knobs such as --latency-ms; --help for all)."""
    from emulators.ctms.__main__ import main

    main(ctx.args)


@emulate.command("crm", context_settings=PASS_THROUGH, add_help_option=False)
def emulate_crm(ctx: typer.Context) -> None:
    """A Salesforce REST stand-in for one org (--org, --port, --people, --db, knobs; --help for all)."""
    from emulators.crm.__main__ import main

    main(ctx.args)
