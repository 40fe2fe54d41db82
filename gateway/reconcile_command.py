"""`ccgw reconcile`: one reconciliation of a connection from the command line, with a progress bar while it works
and a summary table (or JSON) at the end."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from datasources.errors import SourceError
from datasources.store.db import migrate
from gateway.app import build_services
from gateway.settings import Settings
from resolvers.errors import ClientError
from resolvers.reconcile import Summary
from resolvers.reconcile_jobs import begin, failure, run_job

PHASES = {"starting": "Starting", "listing": "Listing both sides", "comparing": "Comparing",
          "repairing": "Planning repairs", "delivering": "Waiting for the worker to deliver"}
COLUMNS = {"compared": "compared", "in_step": "in step", "repaired": "repaired", "orphaned": "orphaned",
           "unmatched": "unmatched", "failed": "failed", "pending": "pending"}


class Bar:
    """One progress bar per phase; a phase that starts completes the ones before it."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.totals: dict[str, int] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        task = self.tasks.get(phase)
        if task is None:
            self.finish()
            task = self.tasks[phase] = self.progress.add_task(PHASES.get(phase, phase), total=None, count="")
        self.totals[phase] = total
        # A total of 0 is not known yet (or nothing to do): the bar pulses, without a count.
        self.progress.update(task, total=total or None, completed=done, count=f"{done}/{total}" if total else "")

    def finish(self) -> None:
        """The phases so far are over: their bars full."""
        for phase, task in self.tasks.items():
            total = self.totals.get(phase) or 1
            self.progress.update(task, total=total, completed=total)


def summary_table(connection: str, since: date | None, dry_run: bool, summary: Summary) -> Table:
    title = f"Reconciliation of {connection}" + (f" since {since.isoformat()}" if since else "")
    table = Table(title=title + (" (dry run: nothing changed)" if dry_run else ""))
    values = summary.as_dict()
    for label in COLUMNS.values():
        table.add_column(label, justify="right")
    table.add_row(*(str(values[key]) for key in COLUMNS))
    return table


async def _run(settings: Settings, connection: str, since: date | None, dry_run: bool, bar: Bar | None,
               wait_s: float) -> tuple[str, Summary]:
    services = build_services(settings)
    try:
        job = await begin(services, connection, since, dry_run, "cli")
        return job.id, await run_job(services, job, wait_s=wait_s, listener=bar)
    finally:
        await services.backends.close()
        await services.store.engine.dispose()


def run(config: str | None, connection: str, since: date | None, *, dry_run: bool, as_json: bool,
        wait_s: float) -> int:
    """Run one reconciliation; the exit code: 0 done, 1 done with failures or not done, 2 bad input."""
    settings = Settings.load(config)
    migrate(settings.database_url)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=Console(stderr=True), disable=as_json) as progress:
            bar = Bar(progress)
            job_id, summary = asyncio.run(_run(settings, connection, since, dry_run, bar, wait_s))
            bar.finish()
    except (ClientError, SourceError) as exc:
        typer.echo(f"error: {failure(exc)}", err=True)
        return 2 if isinstance(exc, ClientError) else 1
    if as_json:
        typer.echo(json.dumps({"job": job_id, "connection": connection, "since": since.isoformat() if since else None,
                               "dry_run": dry_run, **summary.as_dict()}))
    else:
        Console().print(summary_table(connection, since, dry_run, summary))
    return 1 if summary.failed else 0
