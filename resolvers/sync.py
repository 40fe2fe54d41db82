"""Where the mirrors of an activity stand, per org (clinical) or in the CTMS (medical)."""

from __future__ import annotations

from datetime import UTC, datetime

from datasources.store.models import Mirror
from datasources.store.repo import CTMS_TARGET
from domain import ClinicalActivity, MedicalActivity, SyncState, SyncStatus
from resolvers.context import RequestContext


def _status(connection: str | None, row: Mirror | None, since: datetime | None) -> SyncStatus:
    if row is None:
        return SyncStatus(connection, SyncState.PENDING, None, 0, None, since or datetime.now(UTC))
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return SyncStatus(connection, row.state, row.remote_id, row.attempts, row.last_error, updated)


async def sync_of(ctx: RequestContext, activity: ClinicalActivity | MedicalActivity) -> list[SyncStatus]:
    if isinstance(activity, ClinicalActivity):
        rows = {m.target: m for m in await ctx.mirror_rows("clinical", activity.id)}
        return [_status(o.name, rows.get(o.name), activity.modified_at) for o in ctx.orgs]
    if activity.ctms_id and not ctx.org(activity.connection):
        # Read from the CTMS itself: its mirror exists there.
        when = activity.modified_at or datetime.now(UTC)
        return [SyncStatus(None, SyncState.SYNCED, activity.ctms_id, 0, None, when)]
    rows = {m.target: m for m in await ctx.mirror_rows("medical", activity.call_key)}
    return [_status(None, rows.get(CTMS_TARGET), activity.modified_at)]
