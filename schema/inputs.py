"""Input types of the contract, converted to domain values."""

from __future__ import annotations

from datetime import date

import strawberry

from domain import ActivityKind as _Kind
from domain import ActivityStatus as _Status
from domain import Channel as _Channel
from domain.connections import CrmAuth as _CrmAuth
from domain.timeline import TimelineFilter as _Filter
from schema.enums import ActivityKind, ActivityStatus, Channel, CrmAuth


@strawberry.input
class TimelineFilter:
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    channels: list[Channel] | None = None
    statuses: list[ActivityStatus] | None = None
    kinds: list[ActivityKind] | None = None

    def to_domain(self) -> _Filter:
        return _Filter(
            date_from=self.from_, date_to=self.to,
            channels=frozenset(_Channel(c.value) for c in self.channels) if self.channels is not None else None,
            statuses=frozenset(_Status(s.value) for s in self.statuses) if self.statuses is not None else None,
            kinds=frozenset(_Kind(k.value) for k in self.kinds) if self.kinds is not None else None)


@strawberry.input(description="Exactly one of the four.")
class ActivityContextInput:
    study_id: strawberry.ID | None = None
    study_country_id: strawberry.ID | None = None
    study_site_id: strawberry.ID | None = None
    study_personnel_id: strawberry.ID | None = None


@strawberry.input
class CreateClinicalActivityInput:
    person_id: strawberry.ID
    context: ActivityContextInput
    date: date
    channel: Channel
    completed: bool
    subject: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Repeating a request with the same key returns the first result and writes nothing new.")


@strawberry.input
class UpdateClinicalActivityInput:
    id: strawberry.ID
    date: date | None = None
    channel: Channel | None = None
    completed: bool | None = None
    subject: str | None = strawberry.UNSET


@strawberry.input
class SendCallToClinicalInput:
    connection_id: strawberry.ID
    call_id: strawberry.ID = strawberry.field(description="The CRM call (Call2_vod__c) id.")


@strawberry.input
class LogCallInput:
    connection_id: strawberry.ID
    person_id: strawberry.ID
    date: date
    channel: Channel
    completed: bool
    subject: str | None = None
    send_to_clinical: bool = False
    idempotency_key: str | None = None


# The names of the environment variables holding a connection's secrets (never the secrets themselves).
_VARIABLES = ("client_secret_env", "username_env", "password_env", "private_key_env")


@strawberry.input(description="A connection to one CRM org (ten at most, names unique). Secrets are named by the "
                              "environment variables of the gateway that hold them, never given.")
class CreateConnectionInput:
    name: str = strawberry.field(description="Lower-case letters, digits, - and _; at most 40. Never changes.")
    crm_url: str = strawberry.field(description="The org's instance URL (https://acme.my.salesforce.com).")
    client_id_env: str = strawberry.field(description="Variable holding the connected app's client id.")
    ctms_identifier_field: str
    crm_identifier_field: str
    api_version: str = "66.0"
    auth_kind: CrmAuth | None = strawberry.field(
        default=None, description="Default: PASSWORD when usernameEnv is given, else CLIENT_CREDENTIALS.")
    client_secret_env: str | None = strawberry.field(
        default=None, description="Variable holding the client secret (CLIENT_CREDENTIALS, PASSWORD).")
    username_env: str | None = strawberry.field(default=None, description="Variable holding the username (PASSWORD).")
    password_env: str | None = strawberry.field(default=None, description="Variable holding the password (PASSWORD).")
    private_key_env: str | None = strawberry.field(
        default=None, description="Variable holding the PEM RSA private key whose certificate the connected app "
                                  "holds (JWT_BEARER).")
    jwt_subject: str | None = strawberry.field(
        default=None, description="The username the JWT bearer assertion names (JWT_BEARER).")
    jwt_audience: str | None = strawberry.field(
        default=None, description="The assertion's audience: https://login.salesforce.com for a production org, "
                                  "https://test.salesforce.com for a sandbox (JWT_BEARER; default: crmUrl).")
    enabled: bool = True

    def values(self) -> dict[str, object]:
        """The connection's attributes, as resolvers.connections names them."""
        return {"name": self.name, "crm_url": self.crm_url, "client_id_env": self.client_id_env,
                "ctms_field": self.ctms_identifier_field, "crm_field": self.crm_identifier_field,
                "api_version": self.api_version, "client_secret_env": self.client_secret_env,
                "username_env": self.username_env, "password_env": self.password_env,
                "private_key_env": self.private_key_env, "jwt_subject": self.jwt_subject,
                "jwt_audience": self.jwt_audience, "enabled": self.enabled,
                "auth_kind": _CrmAuth(self.auth_kind.value) if self.auth_kind is not None else None}


@strawberry.input(description="Omitted fields stay as they are; so does a null enabled, crmUrl, apiVersion, authKind, "
                              "clientIdEnv or identifier field. A null clientSecretEnv, usernameEnv, passwordEnv, "
                              "privateKeyEnv, jwtSubject or jwtAudience clears it. The name never changes.")
class UpdateConnectionInput:
    id: strawberry.ID
    enabled: bool | None = None
    ctms_identifier_field: str | None = None
    crm_identifier_field: str | None = None
    crm_url: str | None = strawberry.UNSET
    api_version: str | None = strawberry.UNSET
    auth_kind: CrmAuth | None = strawberry.UNSET
    client_id_env: str | None = strawberry.UNSET
    client_secret_env: str | None = strawberry.UNSET
    username_env: str | None = strawberry.UNSET
    password_env: str | None = strawberry.UNSET
    private_key_env: str | None = strawberry.UNSET
    jwt_subject: str | None = strawberry.UNSET
    jwt_audience: str | None = strawberry.UNSET

    def changes(self) -> dict[str, object]:
        """The values given beyond enabled and the identifier fields, as resolvers.connections names them."""
        out: dict[str, object] = {}
        for attr in ("crm_url", "api_version", "client_id_env"):
            value = getattr(self, attr)
            if value is not strawberry.UNSET and value is not None:
                out[attr] = value
        if self.auth_kind is not strawberry.UNSET and self.auth_kind is not None:
            out["auth_kind"] = _CrmAuth(self.auth_kind.value)
        for attr in (*_VARIABLES, "jwt_subject", "jwt_audience"):
            value = getattr(self, attr)
            if value is not strawberry.UNSET:
                out[attr] = value
        return out
