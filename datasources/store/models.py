"""Tables of the gateway's own state."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlalchemy import Enum as SqlEnum
from sqlmodel import Field, SQLModel

from datasources.trace_context import TRACEPARENT_CHARS
from domain.connections import CrmAuth
from domain.models import IntentStatus, JobState, SyncState
from domain.permissions import AUDIT_NAME_MAX

# The longest text each bounded column holds; what is written there is cut to fit (see clip_error).
LAST_ERROR_MAX = 1000
# An intent's key is stored as "<digest of the user, OWNER_KEY_CHARS long>:<the client's key>".
OWNER_KEY_CHARS = 24
STORED_KEY_MAX = 160


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: object) -> object:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, **kw))


def _state(enum: type[Enum], default: Enum, *, length: int, check: str, index: bool = True) -> object:
    """An enum column stored as its values in a VARCHAR, with a CHECK constraint naming them: SQLite and
    PostgreSQL hold and refuse the same things, and the stored values stay readable."""
    kind = SqlEnum(enum, native_enum=False, create_constraint=True, length=length, name=check,
                   values_callable=lambda members: [m.value for m in members], validate_strings=True)
    return Field(default=default, sa_column=Column(kind, nullable=False, index=index))


def clip_error(text: str | None) -> str | None:
    """A mirror's last error as its column holds it."""
    return None if text is None else text[:LAST_ERROR_MAX]


class ConnectionRow(SQLModel, table=True):
    """One CRM org: where it is, how the gateway signs in and which environment variables hold the secrets that
    takes, and how people match."""

    __tablename__ = "connection"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True, index=True)
    crm_url: str = Field(max_length=500)
    api_version: str = Field(default="66.0", max_length=10)
    auth_kind: CrmAuth = _state(CrmAuth, CrmAuth.CLIENT_CREDENTIALS, length=20, check="ck_connection_auth_kind",
                                index=False)
    client_id_env: str = Field(max_length=100)
    client_secret_env: str | None = Field(default=None, max_length=100)
    username_env: str | None = Field(default=None, max_length=100)
    password_env: str | None = Field(default=None, max_length=100)
    # JWT bearer: the variable holding the PEM private key, the user the assertion names (its `sub`), and its
    # audience (unset: the CRM URL).
    private_key_env: str | None = Field(default=None, max_length=100)
    jwt_subject: str | None = Field(default=None, max_length=255)
    jwt_audience: str | None = Field(default=None, max_length=500)
    enabled: bool = True
    ctms_field: str = Field(max_length=80)
    ctms_field_kind: str = Field(max_length=10)
    crm_field: str = Field(max_length=80)
    crm_field_kind: str = Field(max_length=10)
    updated_at: datetime = _ts()


class Intent(SQLModel, table=True):
    """A write recorded before it reaches its system of record, so a crash never loses or doubles it."""

    __tablename__ = "intent"
    id: str = Field(primary_key=True, max_length=40)
    operation: str = Field(max_length=40)
    idempotency_key: str | None = Field(default=None, max_length=STORED_KEY_MAX, unique=True)
    input_hash: str = Field(max_length=64)
    input_json: str = Field(sa_column=Column(Text, nullable=False))
    actor: str = Field(max_length=AUDIT_NAME_MAX)
    # PENDING -> DONE | ABANDONED (and ABANDONED -> PENDING when a replay retries the write)
    status: IntentStatus = _state(IntentStatus, IntentStatus.PENDING, length=12, check="ck_intent_status")
    result_id: str | None = Field(default=None, max_length=120)
    created_at: datetime = _ts()
    updated_at: datetime = _ts(index=True)  # the catch-up of live updates reads by it


class Mirror(SQLModel, table=True):
    """The outbox and the mirror link in one: "bring target up to date with source", and where that stands."""

    __tablename__ = "mirror"
    __table_args__ = (UniqueConstraint("source_kind", "source_id", "target", name="uq_mirror_source_target"),)
    id: int | None = Field(default=None, primary_key=True)
    source_kind: str = Field(max_length=10)  # clinical | medical
    source_id: str = Field(max_length=120, index=True)
    target: str = Field(max_length=40, index=True)  # connection name, or "ctms"
    person_id: str | None = Field(default=None, max_length=40)
    state: SyncState = _state(SyncState, SyncState.PENDING, length=10, check="ck_mirror_state")
    remote_id: str | None = Field(default=None, max_length=40)
    # The account (clinical) or person (medical) matched when the mirror was planned.
    match_id: str | None = Field(default=None, max_length=40)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=LAST_ERROR_MAX)
    # Bumped by every change of the source; delivery records which version it carried.
    version: int = 1
    delivered_version: int = 0
    deleted: bool = False
    next_attempt_at: datetime = _ts(index=True)
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    updated_at: datetime = _ts(index=True)  # the catch-up of live updates reads by it
    # Since when the mirror has been waiting (PENDING) without a break; None when it is not: the backlog's age.
    pending_since: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    # The W3C traceparent of the span that planned the latest change (a request, a poll), when it was traced.
    trace_parent: str | None = Field(default=None, max_length=TRACEPARENT_CHARS)


class SyncMark(SQLModel, table=True):
    """The high-water mark of the incremental sync of one source."""

    __tablename__ = "sync_mark"
    source: str = Field(primary_key=True, max_length=60)
    mark: str = Field(max_length=60)
    updated_at: datetime = _ts()


class AuditEntry(SQLModel, table=True):
    """Append-only: who did what, when, and how it ended."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor: str = Field(max_length=AUDIT_NAME_MAX)
    operation: str = Field(max_length=40)
    target_id: str | None = Field(default=None, max_length=120)
    outcome: str = Field(max_length=20)
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ReconcileJobRow(SQLModel, table=True):
    """One reconciliation of a connection: its window, how far it has come, and its summary once it ended."""

    __tablename__ = "reconcile_job"
    id: str = Field(primary_key=True, max_length=32)
    connection: str = Field(max_length=40)
    since: date | None = None
    dry_run: bool = False
    actor: str = Field(max_length=AUDIT_NAME_MAX)
    state: JobState = _state(JobState, JobState.RUNNING, length=12, check="ck_reconcile_job_state", index=False)
    phase: str = Field(default="starting", max_length=20)
    done: int = 0
    total: int = 0
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON, once it ended
    error: str | None = Field(default=None, max_length=LAST_ERROR_MAX)
    started_at: datetime = _ts()
    # Written at least every few seconds while it runs: a RUNNING job not heard from for long was interrupted.
    updated_at: datetime = _ts()
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
