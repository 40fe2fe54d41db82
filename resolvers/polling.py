"""Incremental sync: changes made directly in either system, found by polling since a high-water mark."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from datasources.errors import SourceError
from datasources.events import Change
from datasources.instrument import ChangesSeen, PollDone, emit
from datasources.sources import Org
from datasources.store.models import Mirror
from datasources.store.repo import MirrorPlan
from domain import SyncState
from resolvers.context import RequestContext, Services, build_context
from resolvers.delivery import SYSTEM
from resolvers.planning import clinical_plans, medical_plan
from resolvers.tracing import own_trace

log = logging.getLogger("ccgw.polling")
PAGE = 1000


async def poll_once(services: Services) -> int:
    """One polling cycle over the CTMS and every enabled org; returns how many changes were planned.

    A trace of its own: the mirrors it plans link their deliveries to it."""
    with own_trace(services.tracer, "poll"):
        return await _poll_all(services)


async def _poll_all(services: Services) -> int:
    ctx = await build_context(services, SYSTEM)
    planned = 0
    try:
        planned += await _poll_ctms(ctx)
        planned += await _poll_ctms_deletions(ctx)
        emit(PollDone("ctms"))
    except SourceError as exc:
        log.warning("CTMS poll failed: %s", exc)
    for org in ctx.orgs:
        try:
            planned += await _poll_org(ctx, org)
            planned += await _poll_org_deletions(ctx, org)
            emit(PollDone(org.source))
        except SourceError as exc:
            log.warning("%s poll failed: %s", org.source, exc)
    return planned


async def _withdraw(ctx: RequestContext, kind: str, ids: list[str]) -> int:
    """Plan the removal of the mirrors of sources deleted at their system of record."""
    planned = 0
    for source_id, rows in zip(ids, await ctx.store.mirrors_of(kind, ids), strict=True):
        if rows and not all(r.deleted for r in rows):
            await ctx.store.plan_mirrors(kind, source_id, None, [MirrorPlan(r.target) for r in rows], deleted=True,
                                         change=Change.DELETED)
            planned += 1
    return planned


async def _poll_ctms_deletions(ctx: RequestContext) -> int:
    deleted = await ctx.clinical.deletions_since(await ctx.store.mark("ctms:deletions"))
    if not deleted.items:
        return 0
    planned = await _withdraw(ctx, "clinical", deleted.items)
    if deleted.mark:
        await ctx.store.set_mark("ctms:deletions", deleted.mark)
    return planned


async def _poll_org_deletions(ctx: RequestContext, org: Org) -> int:
    source = f"{org.source}:deleted"
    deleted = await org.crm.deletions_since(await ctx.store.mark(source))
    planned = await _withdraw(ctx, "medical", [f"{org.name}:{i}" for i in deleted.items]) if deleted.items else 0
    if deleted.mark:
        await ctx.store.set_mark(source, deleted.mark)
    return planned


def _is_new(row: Mirror | None, changed_at: datetime | None) -> bool:
    """A change we have not planned yet: no mirror, or the source changed after the mirror was last handled."""
    if row is None or changed_at is None:
        return True
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return row.state is not SyncState.PENDING and changed_at > updated


async def _poll_ctms(ctx: RequestContext) -> int:
    changed = await ctx.clinical.changes_since(await ctx.store.mark("ctms:activities"), PAGE)
    acts = changed.items
    if not acts:
        return 0
    emit(ChangesSeen.since("ctms", (a.modified_at for a in acts)))
    existing = await ctx.store.mirrors_of("clinical", [a.id for a in acts])
    people = {p.id: p for p in await ctx.loaders.person.load_many(sorted({a.person_id for a in acts})) if p}
    planned = 0
    for act, rows in zip(acts, existing, strict=True):
        by_target = {r.target: r for r in rows}
        plans = [p for p in await clinical_plans(ctx, people.get(act.person_id))
                 if _is_new(by_target.get(p.target), act.modified_at)]
        if plans:
            await ctx.store.plan_mirrors("clinical", act.id, act.person_id, plans,
                                         change=Change.UPDATED if rows else Change.CREATED)
            planned += 1
    if changed.mark:
        await ctx.store.set_mark("ctms:activities", changed.mark)
    return planned


async def _poll_org(ctx: RequestContext, org: Org) -> int:
    source = f"{org.source}:calls"
    changed = await org.crm.changes_since(await ctx.store.mark(source), PAGE)
    if not changed.items:
        return 0
    emit(ChangesSeen.since(org.source, (c.changed_at for c in changed.items)))
    keys = [f"{org.name}:{c.call_id}" for c in changed.items]
    existing = await ctx.store.mirrors_of("medical", keys)
    planned = 0
    for change, key, rows in zip(changed.items, keys, existing, strict=True):
        row = rows[0] if rows else None
        # A call never sent needs nothing; one withdrawn from Clinical needs its mirror removed.
        if not change.sent and row is None:
            continue
        if _is_new(row, change.changed_at):
            change_made = Change.CREATED if row is None else Change.UPDATED if change.sent else Change.DELETED
            await ctx.store.plan_mirrors("medical", key, None, medical_plan(None), change=change_made)
            planned += 1
    if changed.mark:
        await ctx.store.set_mark(source, changed.mark)
    return planned
