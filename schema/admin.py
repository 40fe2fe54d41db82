"""The admin view's types: the audit trail as a paged connection, the mirrors that FAILED, and the backlog."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from datasources.store.backlog import TO_CRM, Backlog
from datasources.store.models import AuditEntry as AuditRow
from resolvers.admin_lists import FailedMirror as FailedRow
from resolvers.ids import to_global
from schema.context import rc
from schema.enums import ActivityKind
from schema.types import Connection, PageInfo


@strawberry.type
class AuditEntry:
    at: datetime
    actor: str
    operation: str
    target_id: str | None
    outcome: str
    detail: str | None = strawberry.field(description="JSON: the intent and what changed.")


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo


@strawberry.enum(description="TO_CRM: a clinical activity's mirror in an org. TO_CTMS: a call's Medical Activity in "
                             "the CTMS.")
class SyncDirection(Enum):
    TO_CRM = "TO_CRM"
    TO_CTMS = "TO_CTMS"


def _direction(value: str) -> SyncDirection:
    return SyncDirection.TO_CRM if value == TO_CRM else SyncDirection.TO_CTMS


@strawberry.type(description="A mirror that FAILED for good: retrySync(activityId) delivers it again.")
class FailedMirror:
    row: strawberry.Private[FailedRow]

    @strawberry.field
    def activity_id(self) -> strawberry.ID:
        kind = "ClinicalActivity" if self.row.mirror.source_kind == "clinical" else "MedicalActivity"
        return strawberry.ID(to_global(kind, self.row.mirror.source_id))

    @strawberry.field(description="The activity's id in its system of record: the CTMS's, or `org:call id`.")
    def source_id(self) -> strawberry.ID:
        return strawberry.ID(self.row.mirror.source_id)

    @strawberry.field
    def activity_kind(self) -> ActivityKind:
        return ActivityKind.CLINICAL if self.row.mirror.source_kind == "clinical" else ActivityKind.MEDICAL

    @strawberry.field(description="The org the mirror goes to, or a call's org it comes from.")
    def connection_name(self) -> str:
        return self.row.connection

    @strawberry.field
    def connection(self, info: Info) -> Connection | None:
        row = rc(info).connection(self.row.connection)
        return Connection(row=row) if row else None

    @strawberry.field
    def direction(self) -> SyncDirection:
        return _direction(self.row.direction)

    @strawberry.field
    def attempts(self) -> int:
        return self.row.mirror.attempts

    @strawberry.field
    def last_error(self) -> str | None:
        return self.row.mirror.last_error

    @strawberry.field
    def updated_at(self) -> datetime:
        at = self.row.mirror.updated_at
        return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive datetimes, written in UTC


@strawberry.type
class FailedMirrorEdge:
    cursor: str
    node: FailedMirror


@strawberry.type
class FailedMirrorConnection:
    edges: list[FailedMirrorEdge]
    page_info: PageInfo


@strawberry.type(description="The outbox of one connection in one direction.")
class ConnectionBacklog:
    entry: strawberry.Private[Backlog]

    @strawberry.field
    def connection_name(self) -> str:
        return self.entry.connection

    @strawberry.field
    def direction(self) -> SyncDirection:
        return _direction(self.entry.direction)

    @strawberry.field(description="Mirrors waiting for delivery.")
    def pending(self) -> int:
        return self.entry.pending

    @strawberry.field(description="Mirrors that FAILED for good.")
    def failed(self) -> int:
        return self.entry.failed

    @strawberry.field(description="Seconds since the oldest pending mirror was planned or last attempted (0 without "
                                  "one).")
    def oldest_pending_seconds(self) -> float:
        return self.entry.oldest_pending_s


def audit_entry(row: AuditRow) -> AuditEntry:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # SQLite hands back naive datetimes, written in UTC
    return AuditEntry(at=at, actor=row.actor, operation=row.operation, target_id=row.target_id, outcome=row.outcome,
                      detail=row.detail)
