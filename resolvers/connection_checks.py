"""Testing a connection as it is configured: is the org reachable, are the credentials accepted, is the API version
offered, and do the identifier fields exist on both sides. One verdict per check, in words of ours: a backend's own
text never reaches a message."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from datasources.errors import SourceError, SourceRejected
from datasources.sources import CrmSource, Sources
from datasources.store.models import ConnectionRow
from datasources.store.repo import Store
from domain.connections import ConnectionCheck, CrmAuth
from resolvers.errors import NotFound

__all__ = ["Verdict", "check_connection", "verify_connection"]

_VERSION = re.compile(r"^\d{1,3}\.\d$")


@dataclass(frozen=True)
class Verdict:
    check: ConnectionCheck
    ok: bool
    message: str


def _not_checked(check: ConnectionCheck, because: str) -> Verdict:
    return Verdict(check, False, f"not checked: {because}")


async def verify_connection(store: Store, sources: Sources, name: str, *, actor: str
                          ) -> tuple[ConnectionRow, list[Verdict]]:
    """testConnection (and `ccgw connections test`): the connection's verdicts, kept in the audit trail."""
    row = await store.connection(name)
    if row is None:
        raise NotFound(f"no connection {name}", field="id")
    verdicts = await check_connection(sources, row)
    failed = [v.check.value for v in verdicts if not v.ok]
    await store.audit(actor, "testConnection", name, "failed" if failed else "ok", {"failed": failed})
    return row, verdicts


async def check_connection(sources: Sources, row: ConnectionRow) -> list[Verdict]:
    """Every check of `ConnectionCheck`, in its order. The org is spoken to over a client of its own, signing in
    afresh; the CTMS as the process always speaks to it."""
    org_checks, ctms_check = await asyncio.gather(_check_org(sources, row), _check_ctms(sources, row))
    verdicts = {v.check: v for v in [*org_checks, ctms_check]}
    return [verdicts[check] for check in ConnectionCheck]


async def _check_ctms(sources: Sources, row: ConnectionRow) -> Verdict:
    check = ConnectionCheck.CTMS_IDENTIFIER_FIELD
    try:
        names = await sources.clinical.person_fields()
    except SourceError as exc:
        return Verdict(check, False, f"the CTMS could not be asked: {exc.reason}")
    if row.ctms_field not in names:
        return Verdict(check, False, f"the CTMS person object has no field {row.ctms_field}")
    return Verdict(check, True, f"the CTMS person object has {row.ctms_field}")


async def _check_org(sources: Sources, row: ConnectionRow) -> list[Verdict]:
    async with sources.trial(row) as org:
        reach, versions = await _reachability(org, row)
        if not reach.ok:
            because = "the org is not reachable"
            return [reach, _not_checked(ConnectionCheck.CREDENTIALS, because),
                    _not_checked(ConnectionCheck.API_VERSION, because),
                    _not_checked(ConnectionCheck.CRM_IDENTIFIER_FIELD, because)]
        version = _version(row, versions)
        credentials = await _credentials(sources, org, row)
        if not credentials.ok:
            field = _not_checked(ConnectionCheck.CRM_IDENTIFIER_FIELD, "the org did not accept the credentials")
        elif not version.ok:
            field = _not_checked(ConnectionCheck.CRM_IDENTIFIER_FIELD, f"the org does not offer API {row.api_version}")
        else:
            field = await _crm_field(org, row)
        return [reach, credentials, version, field]


async def _reachability(org: CrmSource, row: ConnectionRow) -> tuple[Verdict, list[str]]:
    check = ConnectionCheck.REACHABILITY
    try:
        versions = await org.api_versions()
    except SourceRejected as exc:
        status = f" (HTTP {exc.status})" if exc.status else ""
        return Verdict(check, False, f"{row.crm_url} answered, but not as a Salesforce org does{status}"), []
    except SourceError as exc:
        return Verdict(check, False, f"{row.crm_url} did not answer: {exc.reason}"), []
    return Verdict(check, True, f"{row.crm_url} answers as a Salesforce org"), versions


def _version(row: ConnectionRow, versions: list[str]) -> Verdict:
    check = ConnectionCheck.API_VERSION
    if row.api_version in versions:
        return Verdict(check, True, f"the org offers API {row.api_version}")
    offered = sorted((v for v in versions if _VERSION.match(v)), key=lambda v: tuple(map(int, v.split("."))))
    newest = f" (its newest is {offered[-1]})" if offered else ""
    return Verdict(check, False, f"the org does not offer API {row.api_version}{newest}")


async def _credentials(sources: Sources, org: CrmSource, row: ConnectionRow) -> Verdict:
    check = ConnectionCheck.CREDENTIALS
    missing = sources.missing_secrets(row)
    if missing:
        return Verdict(check, False, f"not set in the gateway's environment: {', '.join(missing)}")
    try:
        await org.sign_in()
    except SourceRejected as exc:
        if exc.code == "INVALID_PRIVATE_KEY":
            return Verdict(check, False, f"{row.private_key_env} does not hold an unencrypted RSA private key in PEM")
        code = f" ({exc.code})" if exc.code else ""
        return Verdict(check, False, f"the org refused the {_grant(row)}{code}")
    except SourceError as exc:
        return Verdict(check, False, f"the org did not answer the sign-in: {exc.reason}")
    return Verdict(check, True, f"the org accepted the {_grant(row)}")


def _grant(row: ConnectionRow) -> str:
    return {CrmAuth.CLIENT_CREDENTIALS: "client credentials", CrmAuth.PASSWORD: "username and password",
            CrmAuth.JWT_BEARER: "JWT bearer assertion"}[CrmAuth(row.auth_kind)]


async def _crm_field(org: CrmSource, row: ConnectionRow) -> Verdict:
    check = ConnectionCheck.CRM_IDENTIFIER_FIELD
    try:
        names = await org.account_fields()
    except SourceError as exc:
        return Verdict(check, False, f"the org's Account object could not be described: {exc.reason}")
    if row.crm_field not in names:
        return Verdict(check, False, f"the org's Account object has no field {row.crm_field}")
    return Verdict(check, True, f"the org's Account object has {row.crm_field}")
