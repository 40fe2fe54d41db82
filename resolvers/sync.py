"""Where the mirrors of an activity stand, per org (clinical) or in the CTMS (medical)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from datasources.store.repo import CTMS_TARGET, MirrorState
from domain import ClinicalActivity, MedicalActivity, SyncState, SyncStatus
from resolvers.context import RequestContext


def _status(connection: str | None, row: MirrorState | None, since: datetime | None) -> SyncStatus:
    if row is None:
        return SyncStatus(connection, SyncState.PENDING, None, 0, None, since or datetime.now(UTC))
    return SyncStatus(connection, row.state, row.remote_id, row.attempts, row.last_error, row.updated_at)


def _key(ctx: RequestContext, activity: ClinicalActivity | MedicalActivity) -> tuple[str, str] | None:
    """The mirror rows an activity's states are read from; None for a call read from the CTMS itself."""
    if isinstance(activity, ClinicalActivity):
        return ("clinical", activity.id)
    if activity.ctms_id and not ctx.org(activity.connection):
        return None
    return ("medical", activity.call_key)


def _states(ctx: RequestContext, activity: ClinicalActivity | MedicalActivity,
            rows: list[MirrorState]) -> list[SyncStatus]:
    by_target = {m.target: m for m in rows}
    if isinstance(activity, ClinicalActivity):
        return [_status(o.name, by_target.get(o.name), activity.modified_at) for o in ctx.orgs]
    if _key(ctx, activity) is None:
        # Read from the CTMS itself: its mirror exists there.
        when = activity.modified_at or datetime.now(UTC)
        return [SyncStatus(None, SyncState.SYNCED, activity.ctms_id, 0, None, when)]
    return [_status(None, by_target.get(CTMS_TARGET), activity.modified_at)]


async def sync_of(ctx: RequestContext, activity: ClinicalActivity | MedicalActivity) -> list[SyncStatus]:
    key = _key(ctx, activity)
    return _states(ctx, activity, await ctx.mirror_rows(*key) if key else [])


async def sync_of_many(ctx: RequestContext, activities: Sequence[ClinicalActivity | MedicalActivity]
                       ) -> list[list[SyncStatus]]:
    """sync_of for a page of activities at once (one store query, as the per-item lookups would batch to)."""
    keys = [_key(ctx, a) for a in activities]
    rows = iter(await ctx.mirror_rows_many([k for k in keys if k is not None]))
    return [_states(ctx, a, next(rows) if k else []) for a, k in zip(activities, keys, strict=True)]
