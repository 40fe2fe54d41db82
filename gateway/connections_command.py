"""`ccgw connections list | add | update | test | remove`: the connections to CRM orgs, in the gateway's store.

Each prints a table on a terminal, tab-separated lines when piped, and JSON with `--json` (for scripts). Exit
codes: 0 done, 1 a check of `test` failed, 2 refused (bad values, unknown connection, pending mirrors)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from datasources.store.models import ConnectionRow
from domain.connections import CrmAuth
from domain.models import SyncState

T = TypeVar("T")

connections = typer.Typer(help="The connections to CRM orgs, in the gateway's store (ten at most). Secrets stay "
                               "in the environment: a connection names the variables holding them.",
                          no_args_is_help=True)
JSON = typer.Option(False, "--json", help="print JSON, for scripts")
CONFIG = typer.Option(None, help="TOML settings file (else CCGW_* variables)")


class Clearable(StrEnum):
    """The optional values `update --clear` removes."""

    client_secret_env = "client-secret-env"
    username_env = "username-env"
    password_env = "password-env"
    private_key_env = "private-key-env"
    jwt_subject = "jwt-subject"
    jwt_audience = "jwt-audience"


def _run(config: str | None, work: Callable[[Any], Awaitable[T]], *, backends: bool = False) -> T:
    """Run `work` with the store (and, with `backends`, the process's backends too: `work` then gets the
    services), migrating the store first."""
    from datasources.store.db import create_engine, migrate
    from datasources.store.repo import Store
    from gateway.settings import Settings

    settings = Settings.load(config)
    migrate(settings.database_url)

    async def main() -> T:
        if backends:
            from gateway.app import build_services

            services = build_services(settings)
            try:
                return await work(services)
            finally:
                await services.backends.close()
                await services.store.engine.dispose()
        store = Store(create_engine(settings.database_url))
        try:
            return await work(store)
        finally:
            await store.engine.dispose()

    return asyncio.run(main())


def _refused(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {getattr(exc, 'message', exc)}", err=True)
    return typer.Exit(2)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def as_dict(row: ConnectionRow, counts: dict[SyncState, int] | None = None) -> dict[str, Any]:
    """A connection as `--json` prints it (named as the GraphQL API names it)."""
    out: dict[str, Any] = {
        "name": row.name, "enabled": row.enabled, "crmUrl": row.crm_url, "apiVersion": row.api_version,
        "auth": {"kind": CrmAuth(row.auth_kind).value, "clientIdEnv": row.client_id_env,
                 "clientSecretEnv": row.client_secret_env, "usernameEnv": row.username_env,
                 "passwordEnv": row.password_env, "privateKeyEnv": row.private_key_env,
                 "jwtSubject": row.jwt_subject, "jwtAudience": row.jwt_audience},
        "identifier": {"ctmsField": row.ctms_field, "crmField": row.crm_field, "ctmsFieldKind": row.ctms_field_kind,
                       "crmFieldKind": row.crm_field_kind}}
    if counts is not None:
        out.update(pending=counts.get(SyncState.PENDING, 0), failed=counts.get(SyncState.FAILED, 0))
    return out


def _summary(row: ConnectionRow) -> str:
    return (f"connection {row.name}: {row.crm_url} ({row.ctms_field} <-> {row.crm_field}, "
            f"{'enabled' if row.enabled else 'disabled'})")


def _show(row: ConnectionRow, as_json: bool) -> None:
    typer.echo(json.dumps(as_dict(row)) if as_json else _summary(row))


@connections.command("list")
def list_(as_json: bool = JSON, config: str | None = CONFIG) -> None:
    """The connections: how each signs in, how it matches people to accounts, and its backlog."""
    async def work(store: Any) -> tuple[list[ConnectionRow], dict[str, dict[SyncState, int]]]:
        return await store.connections(), await store.mirror_counts()

    rows, counts = _run(config, work)
    if as_json:
        typer.echo(json.dumps([as_dict(r, counts.get(r.name, {})) for r in rows], indent=2))
        return
    console = _console()
    if not console.is_terminal:
        for r in rows:
            c = counts.get(r.name, {})
            typer.echo("\t".join([r.name, "enabled" if r.enabled else "disabled", r.crm_url,
                                  f"{r.ctms_field} ({r.ctms_field_kind}) <-> {r.crm_field} ({r.crm_field_kind})",
                                  CrmAuth(r.auth_kind).value, r.api_version, str(c.get(SyncState.PENDING, 0)),
                                  str(c.get(SyncState.FAILED, 0))]))
        return
    table = Table("name", "state", "CRM URL", "API", "sign-in", "CTMS field <-> CRM field", "pending", "failed",
                  title=f"{len(rows)} connections")
    for r in rows:
        c = counts.get(r.name, {})
        table.add_row(r.name, "enabled" if r.enabled else "[yellow]disabled[/]", r.crm_url, r.api_version,
                      CrmAuth(r.auth_kind).value, f"{r.ctms_field} <-> {r.crm_field}",
                      str(c.get(SyncState.PENDING, 0)), str(c.get(SyncState.FAILED, 0)))
    console.print(table)


@connections.command("add")
def add(name: str, crm_url: str = typer.Option(..., help="the org's instance URL"),
        client_id_env: str = typer.Option(..., help="variable holding the OAuth client id"),
        ctms_field: str = typer.Option(..., help="CTMS Person field holding the shared identifier"),
        crm_field: str = typer.Option(..., help="CRM Account field holding the shared identifier"),
        client_secret_env: str | None = typer.Option(None, help="variable holding the OAuth client secret"),
        auth_kind: CrmAuth | None = typer.Option(None, case_sensitive=False, help="how to sign in (default: "
                                                 "PASSWORD with --username-env, else CLIENT_CREDENTIALS)"),
        username_env: str | None = None, password_env: str | None = None,
        private_key_env: str | None = typer.Option(None, help="variable holding the PEM private key (JWT_BEARER)"),
        jwt_subject: str | None = typer.Option(None, help="the username the assertion names (JWT_BEARER)"),
        jwt_audience: str | None = typer.Option(None, help="the assertion's audience (JWT_BEARER; default: the "
                                                           "CRM URL)"),
        api_version: str = "66.0", disabled: bool = False, as_json: bool = JSON,
        config: str | None = CONFIG) -> None:
    """Add (or replace) the connection to one CRM org. Secrets stay in the environment."""
    from resolvers.connections import add_connection
    from resolvers.errors import BadInput

    try:
        row = _run(config, lambda store: add_connection(
            store, name=name, crm_url=crm_url, client_id_env=client_id_env, client_secret_env=client_secret_env,
            ctms_field=ctms_field, crm_field=crm_field, username_env=username_env, password_env=password_env,
            api_version=api_version, enabled=not disabled, auth_kind=auth_kind, private_key_env=private_key_env,
            jwt_subject=jwt_subject, jwt_audience=jwt_audience))
    except BadInput as exc:
        raise _refused(exc) from None
    _show(row, as_json)


@connections.command("update")
def update(name: str, crm_url: str | None = None, api_version: str | None = None,
           auth_kind: CrmAuth | None = typer.Option(None, case_sensitive=False, help="how to sign in"),
           client_id_env: str | None = None, client_secret_env: str | None = None, username_env: str | None = None,
           password_env: str | None = None, private_key_env: str | None = None, jwt_subject: str | None = None,
           jwt_audience: str | None = None, ctms_field: str | None = None, crm_field: str | None = None,
           enabled: bool | None = typer.Option(None, "--enable/--disable", help="turn the connection on or off"),
           clear: list[Clearable] = typer.Option([], help="remove an optional value (repeatable)"),
           as_json: bool = JSON, config: str | None = CONFIG) -> None:
    """Change some values of a connection (not its name); `ccgw connections test` checks the result."""
    from resolvers.connections import change_connection
    from resolvers.errors import BadInput, NotFound

    given = dict(crm_url=crm_url, api_version=api_version, auth_kind=auth_kind, client_id_env=client_id_env,
                 client_secret_env=client_secret_env, username_env=username_env, password_env=password_env,
                 private_key_env=private_key_env, jwt_subject=jwt_subject, jwt_audience=jwt_audience,
                 ctms_field=ctms_field, crm_field=crm_field, enabled=enabled)
    changes: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    for option in clear:
        if option.name in changes:
            raise _refused(ValueError(f"--{option.value} is both given and cleared"))
        changes[option.name] = None
    if not changes:
        raise _refused(ValueError("nothing to change: give at least one option"))
    try:
        row = _run(config, lambda store: change_connection(store, name, changes, actor="cli"))
    except (BadInput, NotFound) as exc:
        raise _refused(exc) from None
    _show(row, as_json)


@connections.command("test")
def test(name: str, as_json: bool = JSON, config: str | None = CONFIG) -> None:
    """Check a connection with this process's environment: the org answers, accepts the credentials and offers
    the API version; the identifier fields exist on both sides."""
    from resolvers.connection_checks import verify_connection
    from resolvers.errors import BadInput, NotFound

    try:
        _, verdicts = _run(config, lambda services: verify_connection(
            services.store, services.backends, name, actor="cli"), backends=True)
    except (BadInput, NotFound) as exc:
        raise _refused(exc) from None
    ok = all(v.ok for v in verdicts)
    if as_json:
        typer.echo(json.dumps({"connection": name, "ok": ok, "checks": [
            {"name": v.check.value, "ok": v.ok, "message": v.message} for v in verdicts]}, indent=2))
    else:
        console = _console()
        if console.is_terminal:
            table = Table("check", "verdict", "why", title=f"connection {name}: {'ok' if ok else 'FAILED'}")
            for v in verdicts:
                table.add_row(v.check.value, "[green]ok[/]" if v.ok else "[red]failed[/]", v.message)
            console.print(table)
        else:
            for v in verdicts:
                typer.echo(f"{v.check.value}\t{'ok' if v.ok else 'failed'}\t{v.message}")
    raise typer.Exit(0 if ok else 1)


@connections.command("remove")
def remove(name: str, force: bool = typer.Option(False, help="remove it although mirrors are pending (they are "
                                                             "dropped undelivered)"),
           as_json: bool = JSON, config: str | None = CONFIG) -> None:
    """Remove a connection and what the gateway keeps about it; what was written in either system stays."""
    from resolvers.connections import delete_connection
    from resolvers.errors import Conflict, NotFound

    try:
        _run(config, lambda store: delete_connection(store, name, force=force, actor="cli"))
    except (Conflict, NotFound) as exc:
        raise _refused(exc) from None
    typer.echo(json.dumps({"deleted": name}) if as_json else f"connection {name} removed")
