"""The `ccgw` command: serve, worker, reconcile, demo, token, and the stand-ins."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gateway.connections_command import connections

if TYPE_CHECKING:
    from gateway.settings import Settings

app = typer.Typer(help="GraphQL gateway over a CTMS and medical CRM orgs.", no_args_is_help=True)
emulate = typer.Typer(help="Run a stand-in (CTMS, CRM org or identity provider) on loopback.", no_args_is_help=True)
app.add_typer(emulate, name="emulate")
app.add_typer(connections, name="connections")


def _with_store(config: str | None, work):  # noqa: ANN001, ANN202
    from datasources.store.db import create_engine, migrate
    from datasources.store.repo import Store
    from gateway.settings import Settings

    settings = Settings.load(config)
    migrate(settings.database_url)

    async def main():  # noqa: ANN202
        store = Store(create_engine(settings.database_url))
        try:
            return await work(store)
        finally:
            await store.engine.dispose()

    return asyncio.run(main())


def serve_settings(settings: Settings, *, worker: bool | None, insecure_no_auth: bool, federation: bool) -> Settings:
    """The settings as `serve`'s flags amend them: a flag given wins over its variable, a flag left out leaves it."""
    if worker is not None:
        settings.worker = worker
    settings.insecure_no_auth = settings.insecure_no_auth or insecure_no_auth
    settings.federation = settings.federation or federation
    return settings


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, config: str | None = None,
          worker: bool | None = typer.Option(None, help="run the outbox worker and the incremental sync in the "
                                                        "gateway (default: CCGW_WORKER, true unless set)"),
          insecure_no_auth: bool = typer.Option(False, help="serve a non-loopback address without an identity "
                                                           "provider: every caller acts as the default user"),
          federation: bool = typer.Option(False, help="serve /graphql as an Apollo Federation 2 subgraph "
                                                      "(or CCGW_FEDERATION=true)"),
          processes: int = typer.Option(1, min=1, help="gateway processes on this port, one listening socket each "
                                                       "(SO_REUSEPORT): one per core uses every core")) -> None:
    """Production: connections from the store, settings from CCGW_* variables or --config."""
    from gateway.auth import check_binding
    from gateway.logs import configure_logging
    from gateway.settings import Settings

    settings = serve_settings(Settings.load(config), worker=worker, insecure_no_auth=insecure_no_auth,
                              federation=federation)
    configure_logging(settings.log_format)
    check_binding(settings, host)
    if processes > 1:
        from gateway.serve import serve_processes

        raise typer.Exit(serve_processes(settings, host, port, processes))
    import uvicorn

    from gateway.app import create_app
    from gateway.http_protocol import OneWriteHttp

    # uvicorn logs through our handler (log_config=None); its access log is replaced by gateway.request_log.
    uvicorn.run(create_app(settings), host=host, port=port, http=OneWriteHttp, log_config=None, access_log=False)


@app.command()
def worker(config: str | None = None) -> None:
    """Run the outbox worker and the incremental sync on their own."""
    from datasources.store.db import migrate
    from gateway.app import build_services
    from gateway.logs import configure_logging
    from gateway.metrics_endpoint import serve_metrics
    from gateway.settings import Settings
    from gateway.worker import run_worker

    settings = Settings.load(config)
    configure_logging(settings.log_format)
    migrate(settings.database_url)

    async def main() -> None:
        services = build_services(settings)
        metrics_server = serve_metrics(settings.metrics_bind, services.store)
        try:
            await run_worker(services, settings)
        finally:
            if metrics_server is not None:
                metrics_server.close()
            await services.backends.close()

    asyncio.run(main())


@app.command()
def reconcile(connection: str = typer.Option(..., help="the connection (CRM org) to reconcile"),
              since: datetime | None = typer.Option(None, formats=["%Y-%m-%d"],
                                                    help="compare the activities dated this day or later "
                                                         "(default: all)"),
              dry_run: bool = typer.Option(False, help="compare and report; change nothing"),
              as_json: bool = typer.Option(False, "--json", help="print the summary as JSON, for scripts"),
              wait: float = typer.Option(60.0, help="seconds to wait for the worker to deliver the repairs "
                                                    "(0: report what was planned)"),
              config: str | None = None) -> None:
    """Compare the CTMS and one org over a window; repair missing, stale and orphaned mirrors through the outbox."""
    from gateway.reconcile_command import run

    code = run(config, connection, since.date() if since else None, dry_run=dry_run, as_json=as_json, wait_s=wait)
    raise typer.Exit(code)


@app.command()
def demo(port: int = 8000, data: Path | None = typer.Option(None, help="keep the demo's state here between runs"),
         people: int = 40,
         federation: bool = typer.Option(False, help="serve /graphql as an Apollo Federation 2 subgraph")) -> None:
    """Stand-ins with seeded data, the gateway over them, GraphiQL at /graphql."""
    from gateway.demo import run_demo

    run_demo(port, data, people, federation=federation)


@app.command()
def token(idp: str = typer.Option(..., help="the OpenID provider's issuer URL"),
          user: str | None = typer.Option(None, help="sign this user in (authorization code + PKCE)"),
          client_id: str = typer.Option("ccgw-web", help="the client asking for the token"),
          client_secret: str | None = typer.Option(None, envvar="CCGW_TOKEN_CLIENT_SECRET",
                                                   help="a confidential client's secret: client credentials")) -> None:
    """Print an access token (the last line of stdout): a demo user's, or a service client's."""
    from gateway.tokens import TokenError, fetch_service_token, fetch_token

    if (user is None) == (client_secret is None):
        typer.echo("error: give --user EMAIL, or --client-id and --client-secret (not both)", err=True)
        raise typer.Exit(2)
    try:
        access_token = (fetch_token(idp, user, client_id) if user is not None
                        else fetch_service_token(idp, client_id, client_secret or ""))
    except TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(access_token)


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


@emulate.command("idp", context_settings=PASS_THROUGH, add_help_option=False)
def emulate_idp(ctx: typer.Context) -> None:
    """The OpenID provider stand-in with the demo users (--port, --audience, --token-ttl-s, knobs; --help for all)."""
    from emulators.idp.__main__ import main

    main(ctx.args)
