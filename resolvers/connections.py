"""Admin views and changes of the connections: create, change, delete; identifier mapping, field mappings, enablement.

Secrets are never stored: a connection names the environment variables that hold them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

from datasources.crm import mapping as crm_fields
from datasources.ctms import mapping as ctms_fields
from datasources.errors import SourceError
from datasources.query import FIELD_PATTERN
from datasources.store.models import ConnectionRow
from datasources.store.repo import Store
from domain.connections import MAX_CONNECTIONS, NEEDED_VARIABLES, CrmAuth
from resolvers.context import RequestContext, Services
from resolvers.errors import BadInput, Conflict, NotFound

__all__ = ["ConnectionRow", "InvalidConnection", "MAX_CONNECTIONS", "add_connection", "change_connection",
           "create_connection", "delete_connection", "field_mappings", "save_new",
           "update_connection"]


NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
API_VERSION = re.compile(r"^\d{2}\.\d$")
SUBJECT = re.compile(r"^\S{1,255}$")
URL_MAX = 500

# Each attribute a create or an update may set, and the input field it comes from (userErrors name those).
INPUT_FIELDS = {
    "name": "name", "crm_url": "crmUrl", "api_version": "apiVersion", "auth_kind": "authKind",
    "client_id_env": "clientIdEnv", "client_secret_env": "clientSecretEnv", "username_env": "usernameEnv",
    "password_env": "passwordEnv", "private_key_env": "privateKeyEnv", "jwt_subject": "jwtSubject",
    "jwt_audience": "jwtAudience", "enabled": "enabled", "ctms_field": "ctmsIdentifierField",
    "crm_field": "crmIdentifierField",
}
_VARIABLES = (("client_id_env", "client id variable"), ("client_secret_env", "client secret variable"),
              ("username_env", "username variable"), ("password_env", "password variable"),
              ("private_key_env", "private key variable"))


class InvalidConnection(BadInput):
    """Every problem of a connection's values at once: (attribute, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems), field=f"input.{INPUT_FIELDS[problems[0][0]]}")
        self.problems = problems


def _clip(value: object) -> str:
    return repr(value if not isinstance(value, str) else value[:80])


def _url_ok(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("https", "http") and bool(parts.hostname) and len(value) <= URL_MAX \
        and parts.username is None and not parts.query and not parts.fragment


def problems_of(row: ConnectionRow) -> list[tuple[str, str]]:
    """What is wrong with a connection's values, each with the attribute at fault; empty when nothing is."""
    found: list[tuple[str, str]] = []
    if not NAME.match(row.name or ""):
        found.append(("name", f"name {_clip(row.name)}: lower-case letters, digits, - and _, at most 40"))
    if not _url_ok(row.crm_url or ""):
        found.append(("crm_url", f"CRM URL {_clip(row.crm_url)} is not an http(s) URL (scheme and host, no query, "
                                 f"at most {URL_MAX} characters)"))
    for attr, label in _VARIABLES:
        value = getattr(row, attr)
        if value is not None and not ENV_NAME.match(value):
            found.append((attr, f"{label} {_clip(value)} is not an environment variable name"))
    kind = CrmAuth(row.auth_kind)
    for attr, what in NEEDED_VARIABLES[kind].items():
        if not getattr(row, attr):
            found.append((attr, f"{kind.value} needs the variable holding the {what}"))
    if row.jwt_subject is not None and not SUBJECT.match(row.jwt_subject):
        found.append(("jwt_subject", f"JWT subject {_clip(row.jwt_subject)} is not a username (no spaces, at most "
                                     "255 characters)"))
    elif kind is CrmAuth.JWT_BEARER and not row.jwt_subject:
        found.append(("jwt_subject", "JWT_BEARER needs the subject: the username the assertion names"))
    if row.jwt_audience is not None and not _url_ok(row.jwt_audience):
        found.append(("jwt_audience", f"JWT audience {_clip(row.jwt_audience)} is not an http(s) URL"))
    for attr, label in (("ctms_field", "CTMS field"), ("crm_field", "CRM field")):
        value = getattr(row, attr) or ""
        if not FIELD_PATTERN.match(value) or "." in value:
            found.append((attr, f"{label} {_clip(value)} is not a field API name"))
    if not API_VERSION.match(row.api_version or ""):
        found.append(("api_version", f"API version {_clip(row.api_version)} is not like 66.0"))
    return found


def _with(row: ConnectionRow, changes: Mapping[str, object]) -> ConnectionRow:
    """A copy of the row with the changes made (the kinds of the identifier fields follow the fields)."""
    unknown = set(changes) - set(INPUT_FIELDS)
    if unknown:
        raise ValueError(f"not a connection attribute: {sorted(unknown)}")
    values = row.model_dump()
    values.update(changes)
    if isinstance(values.get("crm_url"), str):
        values["crm_url"] = values["crm_url"].rstrip("/")
    values["ctms_field_kind"] = ctms_fields.field_kind(values.get("ctms_field") or "")
    values["crm_field_kind"] = crm_fields.field_kind(values.get("crm_field") or "")
    return ConnectionRow(**values)


def _audited(changes: Mapping[str, object]) -> dict[str, object]:
    """What the audit trail keeps of a change: the values, but only that the subject (a username) changed."""
    return {INPUT_FIELDS[k]: (v.value if isinstance(v, CrmAuth) else v) if k != "jwt_subject" else "(changed)"
            for k, v in changes.items()}


def _forget_org(services: Services, name: str) -> None:
    """What this process remembers of an org that a connection no longer points to the same way."""
    services.forget_connections()
    for key in [k for k in services.synced_refs if k[0] == name]:
        services.synced_refs.pop(key, None)


async def add_connection(store: Store, *, name: str, crm_url: str, client_id_env: str, ctms_field: str,
                         crm_field: str, client_secret_env: str | None = None, username_env: str | None = None,
                         password_env: str | None = None, api_version: str = "66.0", enabled: bool = True,
                         auth_kind: CrmAuth | None = None, private_key_env: str | None = None,
                         jwt_subject: str | None = None, jwt_audience: str | None = None) -> ConnectionRow:
    """`ccgw connections add`: create or replace a connection. Without `auth_kind`, a username variable means the
    password grant, else client credentials."""
    values = dict(name=name, crm_url=crm_url, client_id_env=client_id_env, client_secret_env=client_secret_env,
                  username_env=username_env, password_env=password_env, api_version=api_version, enabled=enabled,
                  private_key_env=private_key_env, jwt_subject=jwt_subject, jwt_audience=jwt_audience,
                  ctms_field=ctms_field, crm_field=crm_field)
    if auth_kind is not None:
        values["auth_kind"] = auth_kind
    return await save_new(store, values, replace=True, actor="cli", operation="addConnection")


async def create_connection(ctx: RequestContext, values: Mapping[str, object]) -> ConnectionRow:
    """createConnection: a new connection from the acting admin, never replacing one (names are unique)."""
    saved = await save_new(ctx.store, values, replace=False, actor=ctx.actor.audit_name,
                           operation="createConnection")
    _forget_org(ctx.services, saved.name)
    return saved


async def save_new(store: Store, values: Mapping[str, object], *, replace: bool, actor: str,
                   operation: str) -> ConnectionRow:
    """Check a connection's values as a whole (and the limit of ten) and save it; every problem is reported."""
    values = dict(values)
    if values.get("auth_kind") is None:
        values["auth_kind"] = CrmAuth.PASSWORD if values.get("username_env") else CrmAuth.CLIENT_CREDENTIALS
    row = _with(ConnectionRow(name="", crm_url="", client_id_env="", ctms_field="", ctms_field_kind="",
                              crm_field="", crm_field_kind=""), values)
    problems = problems_of(row)
    existing = {c.name for c in await store.connections()}
    if row.name in existing and not replace:
        problems.append(("name", f"a connection named {row.name} exists"))
    if row.name not in existing and len(existing) >= MAX_CONNECTIONS:
        problems.append(("name", f"at most {MAX_CONNECTIONS} connections (one per CRM org)"))
    if problems:
        raise InvalidConnection(problems)
    try:
        saved = await store.save_connection(row)
    except IntegrityError:  # the same name, created at the same moment by another request
        raise InvalidConnection([("name", f"a connection named {row.name} exists")]) from None
    await store.audit(actor, operation, saved.name, "ok", {"crmUrl": saved.crm_url,
                                                           "authKind": CrmAuth(saved.auth_kind).value,
                                                           "ctmsField": saved.ctms_field,
                                                           "crmField": saved.crm_field})
    return saved


def field_mappings(ctx: RequestContext, row: ConnectionRow) -> list[dict[str, str]]:
    ctms, crm = ctx.clinical.mirror_fields(), ctx.backends.org(row).crm.mirror_fields()
    # The person is matched on the connection's identifier fields, shown beside the reference fields.
    ctms["person"] = f"{ctms['person']} ({row.ctms_field})"
    crm["person"] = f"{crm['person']} ({row.crm_field})"
    return [dict(ctms_label=ctms_label, ctms_field=ctms[key], crm_label=crm_label, crm_field=crm[key],
                 description=description) for key, ctms_label, crm_label, description in _MIRRORED]


# (attribute, CTMS label, CRM label, description) of each field a mirror carries, in the order shown.
_MIRRORED = (
    ("person", "Person", "Account", "Who the interaction was with, matched on the connection's shared identifier."),
    ("date", "Date", "Date", "Date of the activity; past, today or future."),
    ("channel", "Channel", "Call Channel", "Means of communication; the picklists match one to one."),
    ("completed", "Completed", "Status", "Completed Yes is Submitted; otherwise Planned."),
    ("owner", "Owner", "Owner", '"[First] [Last] ([Email])" of the user who created the record in its source system.'),
    ("subject", "Subject", "Subject", "What the interaction was about."),
)


async def _check_field(fields: Callable[[], Awaitable[set[str]]], name: str, side: str, field: list[str]) -> None:
    if not FIELD_PATTERN.match(name) or "." in name:
        raise BadInput(f"{name[:80]!r} is not a field API name", field=".".join(field))
    try:
        names = await fields()
    except SourceError as exc:
        raise BadInput(f"cannot check {name} in the {side}: {exc.reason}", field=".".join(field)) from None
    if name not in names:
        raise BadInput(f"{side} has no field {name}", field=".".join(field))


async def change_connection(store: Store, name: str, changes: Mapping[str, object], *, actor: str,
                            check: Callable[[ConnectionRow], Awaitable[None]] | None = None) -> ConnectionRow:
    """Change some of a connection's values (not its name: mirrors and marks are kept under it); the result is
    checked as a whole, and by `check` when given, before anything is saved."""
    row = await store.connection(name)
    if row is None:
        raise NotFound(f"no connection {name}", field="input.id")
    changes = {k: v for k, v in changes.items() if k != "name"}
    changed = _with(row, changes)
    problems = problems_of(changed)
    if problems:
        raise InvalidConnection(problems)
    if check is not None:
        await check(changed)
    saved = await store.save_connection(changed)
    await store.audit(actor, "updateConnection", name, "ok", _audited(changes))
    return saved


async def update_connection(ctx: RequestContext, name: str, *, enabled: bool | None, ctms_field: str | None,
                            crm_field: str | None, changes: Mapping[str, object] | None = None) -> ConnectionRow:
    """updateConnection: `enabled` and the identifier fields as ever (None leaves them; a new identifier field is
    checked against that side's metadata), and any other value in `changes`."""
    everything = dict(changes or {})
    for attr, value in (("enabled", enabled), ("ctms_field", ctms_field), ("crm_field", crm_field)):
        if value is not None:
            everything[attr] = value

    async def check(row: ConnectionRow) -> None:
        if ctms_field is not None:
            await _check_field(ctx.clinical.person_fields, ctms_field, "the CTMS person object",
                               ["input", "ctmsIdentifierField"])
        if crm_field is not None:
            await _check_field(ctx.backends.org(row).crm.account_fields, crm_field, f"the {name} Account object",
                               ["input", "crmIdentifierField"])

    saved = await change_connection(ctx.store, name, everything, actor=ctx.actor.audit_name, check=check)
    _forget_org(ctx.services, name)
    return saved


async def delete_connection(store: Store, name: str, *, force: bool, actor: str,
                            services: Services | None = None) -> None:
    """Remove a connection and what the gateway kept about it. Refused while mirrors into or out of its org are
    pending, unless forced (they are then dropped undelivered); what was written in either system stays."""
    if await store.connection(name) is None:
        raise NotFound(f"no connection {name}", field="id")
    pending = await store.connection_pending(name)
    if pending and not force:
        raise Conflict(f"{pending} mirrors of {name} are pending: let them be delivered, or delete with force",
                       field="force")
    await store.delete_connection(name)
    if services is not None:
        _forget_org(services, name)
    await store.audit(actor, "deleteConnection", name, "ok", {"force": force, "droppedPending": pending})
