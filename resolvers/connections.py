"""Admin views and changes of the connections: identifier mapping, field mappings, enablement."""

from __future__ import annotations

import re

from datasources.errors import SourceError
from datasources.query import FIELD_PATTERN
from datasources.store.models import ConnectionRow
from datasources.store.repo import Store
from resolvers.context import RequestContext
from resolvers.errors import BadInput, NotFound

__all__ = ["ConnectionRow", "add_connection", "field_kind", "field_mappings", "update_connection"]


MAX_CONNECTIONS = 10  # the product allows one connection per CRM org, ten at most
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


async def add_connection(store: Store, *, name: str, crm_url: str, client_id_env: str, client_secret_env: str,
                         ctms_field: str, crm_field: str, username_env: str | None = None,
                         password_env: str | None = None, api_version: str = "66.0",
                         enabled: bool = True) -> ConnectionRow:
    """Create or replace a connection; credentials are named by environment variable, never stored."""
    problems = []
    if not NAME.match(name):
        problems.append(f"name {name!r}: lower-case letters, digits, - and _, at most 40")
    if not crm_url.startswith(("https://", "http://")):
        problems.append(f"CRM URL {crm_url!r} is not an http(s) URL")
    for label, value in (("client id variable", client_id_env), ("client secret variable", client_secret_env),
                         ("username variable", username_env), ("password variable", password_env)):
        if value is not None and not ENV_NAME.match(value):
            problems.append(f"{label} {value!r} is not an environment variable name")
    for label, value in (("CTMS field", ctms_field), ("CRM field", crm_field)):
        if not FIELD_PATTERN.match(value) or "." in value:
            problems.append(f"{label} {value!r} is not a field API name")
    if not re.match(r"^\d{2}\.\d$", api_version):
        problems.append(f"API version {api_version!r} is not like 66.0")
    existing = {c.name for c in await store.connections()}
    if name not in existing and len(existing) >= MAX_CONNECTIONS:
        problems.append(f"at most {MAX_CONNECTIONS} connections (one per CRM org)")
    if problems:
        raise BadInput("; ".join(problems))
    row = ConnectionRow(name=name, crm_url=crm_url.rstrip("/"), api_version=api_version, client_id_env=client_id_env,
                        client_secret_env=client_secret_env, username_env=username_env, password_env=password_env,
                        enabled=enabled, ctms_field=ctms_field, ctms_field_kind=field_kind(ctms_field),
                        crm_field=crm_field, crm_field_kind=field_kind(crm_field))
    saved = await store.save_connection(row)
    await store.audit("cli", "addConnection", name, "ok", {"crmUrl": saved.crm_url, "ctmsField": ctms_field,
                                                           "crmField": crm_field})
    return saved


def field_kind(name: str) -> str:
    """Custom fields end in __c on both sides, except Veeva's own `_vod__c` fields, which are standard."""
    return "CUSTOM" if name.endswith("__c") and not name.endswith("_vod__c") else "STANDARD"


def field_mappings(ctx: RequestContext, row: ConnectionRow) -> list[dict[str, str]]:
    cm, rm = ctx.backends.ctms_map, ctx.backends.crm_map
    return [
        dict(ctms_label="Person", ctms_field=f"{cm.act_person} ({row.ctms_field})", crm_label="Account",
             crm_field=f"{rm.vci_account} ({row.crm_field})", description="Who the interaction was with, matched on "
             "the connection's shared identifier."),
        dict(ctms_label="Date", ctms_field=cm.act_date, crm_label="Date", crm_field=rm.vci_date,
             description="Date of the activity; past, today or future."),
        dict(ctms_label="Channel", ctms_field=cm.act_channel, crm_label="Call Channel", crm_field=rm.vci_channel,
             description="Means of communication; the picklists match one to one."),
        dict(ctms_label="Completed", ctms_field=cm.act_completed, crm_label="Status", crm_field=rm.vci_status,
             description="Completed Yes is Submitted; otherwise Planned."),
        dict(ctms_label="Owner", ctms_field=cm.act_owner, crm_label="Owner", crm_field=rm.vci_owner,
             description='"[First] [Last] ([Email])" of the user who created the record in its source system.'),
        dict(ctms_label="Subject", ctms_field=cm.act_subject, crm_label="Subject", crm_field=rm.vci_subject,
             description="What the interaction was about."),
    ]


async def _check_field(describe, name: str, side: str, field: list[str]) -> None:  # noqa: ANN001
    if not FIELD_PATTERN.match(name) or "." in name:
        raise BadInput(f"{name[:80]!r} is not a field API name", field=".".join(field))
    try:
        meta = await describe()
    except SourceError as exc:
        raise BadInput(f"cannot check {name} in the {side}: {exc.reason}", field=".".join(field)) from None
    names = {f.get("name") for f in meta.get("fields") or []}
    if name not in names:
        raise BadInput(f"{side} has no field {name}", field=".".join(field))


async def update_connection(ctx: RequestContext, name: str, *, enabled: bool | None, ctms_field: str | None,
                            crm_field: str | None) -> ConnectionRow:
    row = await ctx.store.connection(name)
    if row is None:
        raise NotFound(f"no connection {name}", field="input.id")
    if ctms_field is not None:
        await _check_field(lambda: ctx.backends.ctms.describe(ctx.backends.ctms_map.person), ctms_field,
                           "the CTMS person object", ["input", "ctmsIdentifierField"])
        row.ctms_field, row.ctms_field_kind = ctms_field, field_kind(ctms_field)
    if crm_field is not None:
        client = ctx.backends.org(row).client
        await _check_field(lambda: client.describe(ctx.backends.crm_map.account), crm_field,
                           f"the {name} Account object", ["input", "crmIdentifierField"])
        row.crm_field, row.crm_field_kind = crm_field, field_kind(crm_field)
    if enabled is not None:
        row.enabled = enabled
    saved = await ctx.store.save_connection(row)
    ctx.services.forget_connections()
    await ctx.store.audit(ctx.actor.audit_name, "updateConnection", name, "ok",
                          {"enabled": enabled, "ctmsField": ctms_field, "crmField": crm_field})
    return saved
