"""Reconciliation in the API: the `reconcile` mutation's input, and the job it starts with its progress and summary."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from domain import JobState as _JobState
from resolvers.reconcile_jobs import JobView
from schema.context import rc
from schema.types import Connection

ReconcileJobState = strawberry.enum(_JobState, name="ReconcileJobState",
                                    description="RUNNING until the job ends DONE or FAILED; INTERRUPTED when the "
                                                "process running it stopped first.")


@strawberry.input
class ReconcileInput:
    connection_id: strawberry.ID
    since: date | None = strawberry.field(default=None, description="Compare the activities dated this day or later "
                                                                    "(default: all).")
    dry_run: bool = strawberry.field(default=False, description="Compare and report; change nothing.")


@strawberry.type(description="Each source compared (or orphaned mirror found) counts once: compared = inStep + "
                             "repaired + orphaned + unmatched + failed + pending.")
class ReconcileSummary:
    compared: int
    in_step: int
    repaired: int = strawberry.field(description="Missing or stale mirrors upserted again (with dryRun: to be).")
    orphaned: int = strawberry.field(description="Mirrors whose source is gone, removed (with dryRun: to be).")
    unmatched: int = strawberry.field(description="Sources with no or several counterparts (NO_MATCH, CONFLICT).")
    failed: int = strawberry.field(description="Not compared, or the repair's delivery failed.")
    pending: int = strawberry.field(description="Already waiting in the outbox, or the repair not delivered yet "
                                                "when the job ended.")


@strawberry.type(description="A reconciliation of one connection: both systems compared over a window, and every "
                             "missing, stale or orphaned mirror repaired through the outbox.")
class ReconcileJob:
    job: strawberry.Private[JobView]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.job.id)

    @strawberry.field(description="Null when the connection has been removed since.")
    def connection(self, info: Info) -> Connection | None:
        row = rc(info).connection(self.job.connection)
        return Connection(row=row) if row else None

    @strawberry.field
    def since(self) -> date | None:
        return self.job.since

    @strawberry.field
    def dry_run(self) -> bool:
        return self.job.dry_run

    @strawberry.field
    def state(self) -> ReconcileJobState:
        return self.job.state

    @strawberry.field(description="starting, listing, comparing, repairing or delivering.")
    def phase(self) -> str:
        return self.job.phase

    @strawberry.field(description="How far the phase has come, of `total` (0 while the phase cannot tell).")
    def done(self) -> int:
        return self.job.done

    @strawberry.field
    def total(self) -> int:
        return self.job.total

    @strawberry.field(description="Once the job is DONE.")
    def summary(self) -> ReconcileSummary | None:
        s = self.job.summary
        return ReconcileSummary(**s.as_dict()) if s else None

    @strawberry.field(description="Why the job FAILED.")
    def error(self) -> str | None:
        return self.job.error

    @strawberry.field
    def started_at(self) -> datetime:
        return self.job.started_at

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.job.finished_at
