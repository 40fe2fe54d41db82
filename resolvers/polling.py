"""Incremental sync: changes made directly in either system, found by polling since a high-water mark."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from datasources.backends import Org
from datasources.errors import SourceError
from datasources.query import Cmp, Select
from datasources.store.models import Mirror
from datasources.store.repo import MirrorPlan
from resolvers.context import RequestContext, Services, build_context
from resolvers.delivery import SYSTEM
from resolvers.planning import clinical_plans, medical_plan

log = logging.getLogger("ccgw.polling")
PAGE = 1000
EPOCH = "1970-01-01T00:00:00.000Z"


async def poll_once(services: Services) -> int:
    """One polling cycle over the CTMS and every enabled org; returns how many changes were planned."""
    ctx = await build_context(services, SYSTEM)
    planned = 0
    try:
        planned += await _poll_ctms(ctx)
        planned += await _poll_ctms_deletions(ctx)
    except SourceError as exc:
        log.warning("CTMS poll failed: %s", exc)
    for org in ctx.orgs:
        try:
            planned += await _poll_org(ctx, org)
            planned += await _poll_org_deletions(ctx, org)
        except SourceError as exc:
            log.warning("%s poll failed: %s", org.source, exc)
    return planned


async def _withdraw(ctx: RequestContext, kind: str, ids: list[str]) -> int:
    """Plan the removal of the mirrors of sources deleted at their system of record."""
    planned = 0
    for source_id, rows in zip(ids, await ctx.store.mirrors_of(kind, ids), strict=True):
        if rows and not all(r.deleted for r in rows):
            await ctx.store.plan_mirrors(kind, source_id, None, [MirrorPlan(r.target) for r in rows], deleted=True)
            planned += 1
    return planned


async def _poll_ctms_deletions(ctx: RequestContext) -> int:
    cm = ctx.backends.ctms_map
    mark = await ctx.store.mark("ctms:deletions")
    recs = [r for r in await ctx.backends.ctms.deleted(cm.activity, mark) if not mark or r["date_deleted"] > mark]
    if not recs:
        return 0
    planned = await _withdraw(ctx, "clinical", [r["id"] for r in recs])
    await ctx.store.set_mark("ctms:deletions", recs[-1]["date_deleted"])
    return planned


async def _poll_org_deletions(ctx: RequestContext, org: Org) -> int:
    source = f"{org.source}:deleted"
    now = datetime.now(UTC)
    # Salesforce keeps deletions for 30 days; a first poll looks back as far as it may.
    start = _stamp(await ctx.store.mark(source)) or now - timedelta(days=29)
    if now - start > timedelta(days=29):
        start = now - timedelta(days=29)
    if now <= start:
        return 0
    ids, covered = await org.client.deleted_ids(ctx.backends.crm_map.call, start, now)
    planned = await _withdraw(ctx, "medical", [f"{org.name}:{i}" for i in ids])
    if covered:
        await ctx.store.set_mark(source, covered)
    return planned


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


def _is_new(row: Mirror | None, changed_at: datetime | None) -> bool:
    """A change we have not planned yet: no mirror, or the source changed after the mirror was last handled."""
    if row is None or changed_at is None:
        return True
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return row.state != "PENDING" and changed_at > updated


async def _poll_ctms(ctx: RequestContext) -> int:
    cm = ctx.backends.ctms_map
    mark = await ctx.store.mark("ctms:activities") or EPOCH
    sel = Select(cm.activity, [*cm.activity_fields()]).filter(
        Cmp("modified_date__v", ">", mark), Cmp("object_type__v", "=", cm.clinical_type))
    sel.order_by(("modified_date__v", "ASC"))
    sel.limit = PAGE
    recs = await ctx.backends.ctms.query(sel)
    if not recs:
        return 0
    acts = [cm.clinical_from(r) for r in recs]
    existing = await ctx.store.mirrors_of("clinical", [a.id for a in acts])
    people = {p.id: p for p in await ctx.loaders.person.load_many(sorted({a.person_id for a in acts})) if p}
    planned = 0
    for act, rows in zip(acts, existing, strict=True):
        by_target = {r.target: r for r in rows}
        plans = [p for p in await clinical_plans(ctx, people.get(act.person_id))
                 if _is_new(by_target.get(p.target), act.modified_at)]
        if plans:
            await ctx.store.plan_mirrors("clinical", act.id, act.person_id, plans)
            planned += 1
    await ctx.store.set_mark("ctms:activities", recs[-1]["modified_date__v"])
    return planned


async def _poll_org(ctx: RequestContext, org: Org) -> int:
    rm = ctx.backends.crm_map
    source = f"{org.source}:calls"
    mark = await ctx.store.mark(source) or EPOCH
    sel = Select(rm.call, ["Id", rm.send_to_clinical, "SystemModstamp"]).filter(
        Cmp("SystemModstamp", ">", _stamp(mark)))
    sel.order_by(("SystemModstamp", "ASC"))
    sel.limit = PAGE
    recs = await org.client.query(sel)
    if not recs:
        return 0
    keys = [f"{org.name}:{r['Id']}" for r in recs]
    existing = await ctx.store.mirrors_of("medical", keys)
    planned = 0
    for rec, key, rows in zip(recs, keys, existing, strict=True):
        row = rows[0] if rows else None
        # A call never sent needs nothing; one withdrawn from Clinical needs its mirror removed.
        if not rec.get(rm.send_to_clinical) and row is None:
            continue
        if _is_new(row, _stamp(rec.get("SystemModstamp"))):
            await ctx.store.plan_mirrors("medical", key, None, medical_plan(None))
            planned += 1
    await ctx.store.set_mark(source, recs[-1]["SystemModstamp"])
    return planned
