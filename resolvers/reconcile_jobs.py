"""Reconciliation jobs: started from the command line or by the `reconcile` mutation, their progress kept in the
store while they run (with a heartbeat), their summary once they end."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from datasources.errors import SourceError, SourceRejected
from datasources.store.jobs import Jobs
from datasources.store.models import ReconcileJobRow, utcnow
from domain import JobState, UserError
from resolvers.context import RequestContext, Services
from resolvers.errors import ClientError, NotFound
from resolvers.ids import decode_id
from resolvers.reconcile import Progress, Summary, reconcile

log = logging.getLogger("ccgw.reconcile")
# A running job writes its progress this often, so that one not heard from for STALE_S was interrupted (its
# process stopped without saying so).
HEARTBEAT_S = 2.0
STALE_S = 60.0
# How long a job started by the mutation waits for the worker to deliver its repairs.
JOB_WAIT_S = 60.0
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class JobView:
    """A job as the API shows it."""

    id: str
    connection: str
    since: date | None
    dry_run: bool
    state: JobState
    phase: str
    done: int
    total: int
    summary: Summary | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def view(row: ReconcileJobRow) -> JobView:
    """The job; a running one not heard from for STALE_S is shown INTERRUPTED."""
    state = row.state
    if state is JobState.RUNNING and _aware(row.updated_at) < utcnow() - timedelta(seconds=STALE_S):
        state = JobState.INTERRUPTED
    summary = Summary(**json.loads(row.summary)) if row.summary else None
    return JobView(row.id, row.connection, row.since, row.dry_run, state, row.phase, row.done, row.total, summary,
                   row.error, _aware(row.started_at), _aware(row.finished_at) if row.finished_at else None)


async def begin(services: Services, connection: str, since: date | None, dry_run: bool,
                actor: str) -> ReconcileJobRow:
    """Record a new job; NotFound when the connection is not an enabled one."""
    if not any(row.name == connection and row.enabled for row in await services.connections()):
        raise NotFound(f"no enabled connection {connection}")
    return await Jobs(services.store).start(connection=connection, since=since, dry_run=dry_run, actor=actor)


class _Reporter:
    """Keeps a job's latest progress: hands it to a listener at once, and to the store every HEARTBEAT_S."""

    def __init__(self, jobs: Jobs, job_id: str, listener: Progress | None) -> None:
        self.jobs, self.job_id, self.listener = jobs, job_id, listener
        self.latest = ("starting", 0, 0)

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.latest = (phase, done, total)
        if self.listener is not None:
            self.listener(phase, done, total)

    async def flush(self) -> None:
        await self.jobs.progress(self.job_id, *self.latest)

    async def beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await self.flush()

    async def end(self, state: JobState, *, summary: dict[str, object] | None = None, error: str | None = None
                  ) -> None:
        """Record how the job ended, with how far it had come."""
        await self.flush()
        await self.jobs.finish(self.job_id, state, summary=summary, error=error)


def failure(exc: ClientError | SourceError) -> str:
    """What a failed job says of its cause: our words, never a backend's."""
    if isinstance(exc, ClientError):
        return exc.message
    return f"{exc.source} refused the request" if isinstance(exc, SourceRejected) else f"{exc.source} is unavailable"


async def run_job(services: Services, job: ReconcileJobRow, *, wait_s: float,
                  listener: Progress | None = None) -> Summary:
    """Run a recorded job to its end and record how it ended (an interruption included); raises what stopped it."""
    reporter = _Reporter(Jobs(services.store), job.id, listener)
    beat = asyncio.create_task(reporter.beat())
    try:
        summary = await reconcile(services, job.connection, job.since, dry_run=job.dry_run, progress=reporter,
                                  wait_s=wait_s)
    except asyncio.CancelledError:
        await reporter.end(JobState.INTERRUPTED, error="interrupted")
        raise
    except (ClientError, SourceError) as exc:
        log.warning("reconciliation %s of %s failed: %s", job.id, job.connection, failure(exc))
        await reporter.end(JobState.FAILED, error=failure(exc))
        raise
    except Exception:
        log.exception("reconciliation %s of %s failed", job.id, job.connection)
        await reporter.end(JobState.FAILED, error="internal error")
        raise
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
    await reporter.end(JobState.DONE, summary=summary.as_dict())
    return summary


async def _in_background(services: Services, job: ReconcileJobRow) -> None:
    try:
        await run_job(services, job, wait_s=JOB_WAIT_S)
    except Exception:  # noqa: BLE001 - recorded in the job and logged by run_job
        pass


async def start_job(ctx: RequestContext, connection_id: str, since: date | None,
                    dry_run: bool) -> tuple[JobView | None, list[UserError]]:
    """The `reconcile` mutation: record a job and run it in the background (shutdown lets it finish for a few
    seconds, then records it INTERRUPTED)."""
    errors: list[UserError] = []
    name = decode_id(connection_id, "Connection", ["input", "connectionId"], errors)
    if name is None:
        return None, errors
    try:
        job = await begin(ctx.services, name, since, dry_run, ctx.actor.audit_name)
    except NotFound as exc:
        return None, [UserError(("input", "connectionId"), exc.message, "NOT_FOUND")]
    await ctx.store.audit(ctx.actor.audit_name, "reconcile", name, "ok",
                          {"job": job.id, "since": since.isoformat() if since else None, "dryRun": dry_run})
    ctx.services.track_inline(asyncio.create_task(_in_background(ctx.services, job)))
    return view(job), []


async def find_job(ctx: RequestContext, job_id: str) -> JobView | None:
    if not JOB_ID.match(job_id):
        return None
    row = await Jobs(ctx.store).get(job_id)
    return view(row) if row is not None else None
