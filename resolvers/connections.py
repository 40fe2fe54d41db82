"""Admin views and changes of the connections: identifier mapping, field mappings, enablement."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

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


# (attribute, CTMS label, CRM label, description) of each field a mirror carries, in the order shown.
_MIRRORED = (
    ("person", "Person", "Account", "Who the interaction was with, matched on the connection's shared identifier."),
    ("date", "Date", "Date", "Date of the activity; past, today or future."),
    ("channel", "Channel", "Call Channel", "Means of communication; the picklists match one to one."),
    ("completed", "Completed", "Status", "Completed Yes is Submitted; otherwise Planned."),
    ("owner", "Owner", "Owner", '"[First] [Last] ([Email])" of the user who created the record in its source system.'),
    ("subject", "Subject", "Subject", "What the interaction was about."),
)


def field_mappings(ctx: RequestContext, row: ConnectionRow) -> list[dict[str, str]]:
    ctms, crm = ctx.clinical.mirror_fields(), ctx.backends.org(row).crm.mirror_fields()
    # The person is matched on the connection's identifier fields, shown beside the reference fields.
    ctms["person"] = f"{ctms['person']} ({row.ctms_field})"
    crm["person"] = f"{crm['person']} ({row.crm_field})"
    return [dict(ctms_label=ctms_label, ctms_field=ctms[key], crm_label=crm_label, crm_field=crm[key],
                 description=description) for key, ctms_label, crm_label, description in _MIRRORED]


async def _check_field(fields: Callable[[], Awaitable[set[str]]], name: str, side: str, field: list[str]) -> None:
    if not FIELD_PATTERN.match(name) or "." in name:
        raise BadInput(f"{name[:80]!r} is not a field API name", field=".".join(field))
    try:
        names = await fields()
    except SourceError as exc:
        raise BadInput(f"cannot check {name} in the {side}: {exc.reason}", field=".".join(field)) from None
    if name not in names:
        raise BadInput(f"{side} has no field {name}", field=".".join(field))


async def update_connection(ctx: RequestContext, name: str, *, enabled: bool | None, ctms_field: str | None,
                            crm_field: str | None) -> ConnectionRow:
    row = await ctx.store.connection(name)
    if row is None:
        raise NotFound(f"no connection {name}", field="input.id")
    if ctms_field is not None:
        await _check_field(ctx.clinical.person_fields, ctms_field, "the CTMS person object",
                           ["input", "ctmsIdentifierField"])
        row.ctms_field, row.ctms_field_kind = ctms_field, field_kind(ctms_field)
    if crm_field is not None:
        await _check_field(ctx.backends.org(row).crm.account_fields, crm_field, f"the {name} Account object",
                           ["input", "crmIdentifierField"])
        row.crm_field, row.crm_field_kind = crm_field, field_kind(crm_field)
    if enabled is not None:
        row.enabled = enabled
    saved = await ctx.store.save_connection(row)
    ctx.services.forget_connections()
    await ctx.store.audit(ctx.actor.audit_name, "updateConnection", name, "ok",
                          {"enabled": enabled, "ctmsField": ctms_field, "crmField": crm_field})
    return saved
