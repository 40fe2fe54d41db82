"""The `ccgw` command: serve, worker, demo, token, and the stand-ins."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer

app = typer.Typer(help="GraphQL gateway over a CTMS and medical CRM orgs.", no_args_is_help=True)
emulate = typer.Typer(help="Run a stand-in (CTMS, CRM org or identity provider) on loopback.", no_args_is_help=True)
connections = typer.Typer(help="The connections to CRM orgs, in the gateway's store.", no_args_is_help=True)
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


@connections.command("add")
def connections_add(name: str, crm_url: str = typer.Option(..., help="the org's instance URL"),
                    client_id_env: str = typer.Option(..., help="variable holding the OAuth client id"),
                    client_secret_env: str = typer.Option(..., help="variable holding the OAuth client secret"),
                    ctms_field: str = typer.Option(..., help="CTMS Person field holding the shared identifier"),
                    crm_field: str = typer.Option(..., help="CRM Account field holding the shared identifier"),
                    username_env: str | None = None, password_env: str | None = None, api_version: str = "66.0",
                    disabled: bool = False, config: str | None = None) -> None:
    """Add (or replace) the connection to one CRM org. Secrets stay in the environment."""
    from resolvers.connections import add_connection
    from resolvers.errors import BadInput

    try:
        row = _with_store(config, lambda store: add_connection(
            store, name=name, crm_url=crm_url, client_id_env=client_id_env, client_secret_env=client_secret_env,
            ctms_field=ctms_field, crm_field=crm_field, username_env=username_env, password_env=password_env,
            api_version=api_version, enabled=not disabled))
    except BadInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"connection {row.name}: {row.crm_url} ({row.ctms_field} <-> {row.crm_field}, "
               f"{'enabled' if row.enabled else 'disabled'})")


@connections.command("list")
def connections_list(config: str | None = None) -> None:
    """The connections and how each matches people to accounts."""
    for row in _with_store(config, lambda store: store.connections()):
        typer.echo(f"{row.name}\t{'enabled' if row.enabled else 'disabled'}\t{row.crm_url}\t"
                   f"{row.ctms_field} ({row.ctms_field_kind}) <-> {row.crm_field} ({row.crm_field_kind})")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, config: str | None = None, worker: bool = True,
          insecure_no_auth: bool = typer.Option(False, help="serve a non-loopback address without an identity "
                                                           "provider: every caller acts as the default user"),
          federation: bool = typer.Option(False, help="serve /graphql as an Apollo Federation 2 subgraph "
                                                      "(or CCGW_FEDERATION=true)")) -> None:
    """Production: connections from the store, settings from CCGW_* variables or --config."""
    import uvicorn

    from gateway.app import create_app
    from gateway.auth import check_binding
    from gateway.settings import Settings

    logging.basicConfig(level=logging.INFO)
    settings = Settings.load(config)
    settings.worker = worker
    settings.insecure_no_auth = settings.insecure_no_auth or insecure_no_auth
    settings.federation = settings.federation or federation
    check_binding(settings, host)
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
