"""Reconciliation jobs in the store: started, their progress while they run, and how they ended."""

from __future__ import annotations

import json
import uuid
from datetime import date

from sqlalchemy import update

from datasources.store.models import ReconcileJobRow, clip_error, utcnow
from datasources.store.repo import Store
from domain import JobState


class Jobs:
    """The reconciliation jobs of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def start(self, *, connection: str, since: date | None, dry_run: bool, actor: str) -> ReconcileJobRow:
        row = ReconcileJobRow(id=uuid.uuid4().hex, connection=connection, since=since, dry_run=dry_run, actor=actor)
        async with self.store.session() as s:
            s.add(row)
            await s.commit()
            await s.refresh(row)
        return row

    async def get(self, job_id: str) -> ReconcileJobRow | None:
        async with self.store.session() as s:
            return await s.get(ReconcileJobRow, job_id)

    async def progress(self, job_id: str, phase: str, done: int, total: int) -> None:
        """Record how far a running job has come (and that it is still running)."""
        await self._set(job_id, phase=phase, done=done, total=total)

    async def finish(self, job_id: str, state: JobState, *, summary: dict[str, object] | None = None,
                     error: str | None = None) -> None:
        now = utcnow()
        await self._set(job_id, state=state, summary=json.dumps(summary) if summary is not None else None,
                        error=clip_error(error), finished_at=now)

    async def _set(self, job_id: str, **values: object) -> None:
        # Only a running job changes: one that ended keeps how it ended.
        async with self.store.session() as s:
            await s.execute(update(ReconcileJobRow).where(ReconcileJobRow.id == job_id,
                                                          ReconcileJobRow.state == JobState.RUNNING)
                            .values(updated_at=utcnow(), **values))
            await s.commit()
