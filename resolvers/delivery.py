"""Delivery of pending mirrors: idempotent upserts by external id, batched per target, retried with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from datasources.backends import Org
from datasources.errors import RowError, SourceError, SourceRejected, SourceUnavailable
from datasources.http import backoff_delay
from datasources.query import In, Select, chunks
from datasources.store.models import Mirror, utcnow
from datasources.store.repo import CTMS_TARGET, Outcome
from domain import ClinicalActivity, ContextKind, SyncState
from domain.permissions import Actor
from resolvers.context import RequestContext, Services, build_context
from resolvers.planning import clinical_plans

log = logging.getLogger("ccgw.delivery")
SYSTEM = Actor("ccgw:worker", "ccgw", "worker", "worker@ccgw.invalid", frozenset())
BATCH = 1000
LEASE_S = 120.0


async def deliver_due(services: Services, worker: str, *, target: str | None = None,
                      ids: Sequence[int] | None = None, source: tuple[str, str] | None = None,
                      ctx: RequestContext | None = None, known: dict[str, ClinicalActivity] | None = None) -> int:
    """Claim and deliver due mirrors, a batch per target; returns how many were handled.

    A mutation passes its own context (warm loaders) and the records it has just written (`known`)."""
    rows = await services.store.claim(worker, limit=BATCH, lease_s=LEASE_S, target=target, ids=ids, source=source)
    if not rows:
        return 0
    await deliver_claimed(ctx or await build_context(services, SYSTEM), rows, worker, known)
    return len(rows)


async def deliver_claimed(ctx: RequestContext, rows: Sequence[Mirror], worker: str,
                          known: dict[str, ClinicalActivity] | None = None) -> None:
    """Deliver mirrors this worker holds, each target's batch concurrently with the others."""
    by_target: dict[str, list[Mirror]] = defaultdict(list)
    for row in rows:
        by_target[row.target].append(row)
    await asyncio.gather(*(deliver(ctx, t, batch, worker, known) for t, batch in by_target.items()))


async def deliver(ctx: RequestContext, target: str, rows: list[Mirror], worker: str,
                  known: dict[str, ClinicalActivity] | None = None) -> None:
    try:
        if target == CTMS_TARGET:
            await _deliver_medical(ctx, rows, worker)
        else:
            org = ctx.org(target)
            if org is None:
                await _not_enabled(ctx, rows, worker, target)
                return
            await _deliver_clinical(ctx, org, rows, worker, known or {})
    except SourceError as exc:
        log.warning("delivery of %d mirrors to %s: %s (status %s, code %s)", len(rows), target, exc.reason,
                    exc.status, exc.code)
        await ctx.store.finish_many(worker, [_retry_or_fail(ctx, row, exc) for row in rows])
    except Exception:  # noqa: BLE001 - a delivery bug must not kill the worker; the rows stay visible
        log.exception("delivery to %s failed", target)
        await ctx.store.finish_many(worker, [Outcome(row, "FAILED", error="internal error") for row in rows])


async def _finish(ctx: RequestContext, row: Mirror, worker: str, state: str, *, remote_id: str | None = None,
                  error: str | None = None, attempted: bool = True) -> None:
    await ctx.store.finish(row, worker=worker, state=state, remote_id=remote_id, error=error, attempted=attempted,
                           delivered_version=row.version)


async def _not_enabled(ctx: RequestContext, rows: list[Mirror], worker: str, connection: str) -> None:
    error = f"connection {connection} is not enabled"
    await ctx.store.finish_many(worker, [Outcome(row, "FAILED", error=error, attempted=False) for row in rows])


def _refused(source: str, code: str | None) -> str:
    system = "CTMS" if source == CTMS_TARGET else "CRM"
    return f"{system} refused the record ({code})" if code else f"{system} refused the record"


def sync_error(exc: SourceError) -> str:
    """What a sync status shows of a failed delivery: a short category, never the backend's own text."""
    if isinstance(exc, SourceRejected):
        return _refused(exc.source, exc.code)
    return "CTMS unavailable" if exc.source == CTMS_TARGET else "org unavailable"


def _outcome(row: Mirror, result: str | RowError | None) -> Outcome:
    """A written mirror is SYNCED; one the target refused is FAILED (an admin can retry it)."""
    if isinstance(result, RowError):
        return Outcome(row, "FAILED", error=_refused(row.target, result.code), delivered_version=row.version)
    return Outcome(row, "SYNCED", remote_id=result, delivered_version=row.version)


def _retry_or_fail(ctx: RequestContext, row: Mirror, exc: SourceError) -> Outcome:
    """Try again later with jittered exponential backoff, or FAILED once attempts run out or retrying is futile."""
    attempts = row.attempts + 1
    if not exc.retryable or attempts >= ctx.services.max_attempts:
        return Outcome(row, "FAILED", error=sync_error(exc))
    delay = max(0.2, backoff_delay(attempts, 1.0, 300.0))
    return Outcome(row, "PENDING", error=sync_error(exc), retry_at=utcnow() + timedelta(seconds=delay))


# -- clinical activity -> Vault Clinical Interaction in one org ----------------------------------------------
async def _deliver_clinical(ctx: RequestContext, org: Org, rows: list[Mirror], worker: str,
                            known: dict[str, ClinicalActivity]) -> None:
    b, cm, rm = ctx.backends, ctx.backends.ctms_map, ctx.backends.crm_map
    activities = {r.source_id: known[r.source_id] for r in rows if r.source_id in known and not r.deleted}
    for part in chunks([r.source_id for r in rows if r.source_id not in activities], 500):
        sel = Select(cm.activity, cm.activity_fields()).filter(In("id", part))
        for rec in await b.ctms.query(sel):
            if not cm.is_medical(rec):
                activities[rec["id"]] = cm.clinical_from(rec)
    gone = [r for r in rows if r.source_id not in activities]
    if gone:
        await _delete_interactions(ctx, org, gone, worker)
    live = [r for r in rows if r.source_id in activities]
    # A mirror planned while matching was impossible gets matched now.
    ready: list[Mirror] = []
    for row in live:
        if row.match_id is None:
            person = await ctx.loaders.person.load(activities[row.source_id].person_id)
            plan = next(p for p in await clinical_plans(ctx, person) if p.target == org.name)
            if plan.state != "PENDING" or plan.match_id is None:
                if plan.state == "PENDING":  # matching postponed: the org is unreachable, try again later
                    raise SourceUnavailable(org.source, plan.error or "matching failed")
                await _finish(ctx, row, worker, plan.state, error=plan.error, attempted=False)
                continue
            row.match_id = plan.match_id
        ready.append(row)
    if not ready:
        return
    refs = await _study_refs(ctx, org, [activities[r.source_id] for r in ready])
    records = []
    for row in ready:
        act = activities[row.source_id]
        study_id, site_id, context_name = refs[act.id]
        rec = rm.interaction_record(act, account_id=row.match_id or "", context_name=context_name,
                                    study_id=study_id, site_id=site_id)
        records.append(rec)
    if len(ready) == 1:
        try:
            remote = await org.client.upsert(rm.interaction, rm.vci_external_id, ready[0].source_id, records[0])
        except SourceRejected as exc:
            await _finish(ctx, ready[0], worker, "FAILED", error=sync_error(exc))
            return
        await _finish(ctx, ready[0], worker, "SYNCED", remote_id=remote)
        return
    rows_out = [{rm.vci_external_id: r.source_id, **rec} for r, rec in zip(ready, records, strict=True)]
    results = await org.client.upsert_many(rm.interaction, rm.vci_external_id, rows_out)
    await ctx.store.finish_many(worker, [_outcome(row, res) for row, res in zip(ready, results, strict=True)])


async def _study_refs(ctx: RequestContext, org: Org, acts: list[ClinicalActivity]
                      ) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Upsert the Clinical Study / Clinical Site records the interactions refer to; their ids per activity."""
    loaders, rm = ctx.loaders, ctx.backends.crm_map
    placed: dict[str, tuple[str | None, str | None, str | None]] = {}
    for act in acts:
        ref = act.context
        if ref.kind is ContextKind.STUDY:
            study = await loaders.study.load(ref.id)
            placed[act.id] = (study.id if study else None, None, study.name if study else None)
        elif ref.kind is ContextKind.STUDY_COUNTRY:
            c = await loaders.country.load(ref.id)
            placed[act.id] = (c.study_id if c else None, None, c.name if c else None)
        elif ref.kind is ContextKind.STUDY_SITE:
            s = await loaders.site.load(ref.id)
            placed[act.id] = (s.study_id if s else None, s.id if s else None, s.name if s else None)
        else:
            p = await loaders.personnel.load(ref.id)
            placed[act.id] = (p.study_id if p else None, p.site_id if p else None, p.role if p else None)
    cache = ctx.services.synced_refs
    study_ids = sorted({s for s, _, _ in placed.values() if s and (org.name, "study", s) not in cache})
    site_ids = sorted({x for _, x, _ in placed.values() if x and (org.name, "site", x) not in cache})
    if study_ids:
        studies = await loaders.study.load_many(study_ids)
        rows = [{rm.study_external_id: s.id, "Name": s.name[:80]} for s in studies if s]
        for s, res in zip([s for s in studies if s], await org.client.upsert_many(
                rm.clinical_study, rm.study_external_id, rows), strict=True):
            if isinstance(res, RowError):
                raise SourceRejected(org.source, f"Clinical Study {s.id} refused", code=res.code)
            cache[(org.name, "study", s.id)] = res
    if site_ids:
        sites = [s for s in await loaders.site.load_many(site_ids) if s]
        rows = [{rm.site_external_id: s.id, "Name": s.name[:80],
                 rm.site_study: cache.get((org.name, "study", s.study_id))} for s in sites]
        for s, res in zip(sites, await org.client.upsert_many(rm.clinical_site, rm.site_external_id, rows),
                          strict=True):
            if isinstance(res, RowError):
                raise SourceRejected(org.source, f"Clinical Site {s.id} refused", code=res.code)
            cache[(org.name, "site", s.id)] = res
    return {aid: (cache.get((org.name, "study", s)) if s else None, cache.get((org.name, "site", x)) if x else None,
                  name) for aid, (s, x, name) in placed.items()}


async def _delete_interactions(ctx: RequestContext, org: Org, rows: list[Mirror], worker: str) -> None:
    rm = ctx.backends.crm_map
    found: dict[str, str] = {}
    for part in chunks([r.source_id for r in rows], 300):
        sel = Select(rm.interaction, ["Id", rm.vci_external_id]).filter(In(rm.vci_external_id, part))
        for rec in await org.client.query(sel):
            found[rec[rm.vci_external_id]] = rec["Id"]
    for row in rows:
        remote = found.get(row.source_id)
        if remote:
            await org.client.delete(rm.interaction, remote)
        await _finish(ctx, row, worker, "SYNCED", remote_id=remote)


# -- CRM call sent to Clinical -> Medical Activity in the CTMS -----------------------------------------------
async def _deliver_medical(ctx: RequestContext, rows: list[Mirror], worker: str) -> None:
    by_org: dict[str, list[Mirror]] = defaultdict(list)
    for row in rows:
        by_org[row.source_id.partition(":")[0]].append(row)
    for name, org_rows in by_org.items():
        org = ctx.org(name)
        if org is None:
            await _not_enabled(ctx, org_rows, worker, name)
            continue
        await _deliver_calls(ctx, org, org_rows, worker)


async def _deliver_calls(ctx: RequestContext, org: Org, rows: list[Mirror], worker: str) -> None:
    b, cm, rm = ctx.backends, ctx.backends.ctms_map, ctx.backends.crm_map
    calls: dict[str, dict] = {}
    for part in chunks([r.source_id.partition(":")[2] for r in rows], 300):
        sel = Select(rm.call, rm.call_fields(org.crm_field)).filter(In("Id", part))
        for rec in await org.client.query(sel):
            calls[rec["Id"]] = rec
    withdrawn = [r for r in rows if not (calls.get(r.source_id.partition(":")[2]) or {}).get(rm.send_to_clinical)]
    if withdrawn:
        keys = [r.source_id for r in withdrawn]
        existing: dict[str, str] = {}
        for part in chunks(keys, 300):
            for rec in await b.ctms.query(Select(cm.activity, ["id", cm.act_call_key]).filter(
                    In(cm.act_call_key, part))):
                existing[rec[cm.act_call_key]] = rec["id"]
        if existing:
            await b.ctms.write("DELETE", cm.activity, [{"id": i} for i in existing.values()])
        for row in withdrawn:
            await _finish(ctx, row, worker, "SYNCED", remote_id=None)
    live = [r for r in rows if r not in withdrawn]
    if not live:
        return
    values = {r.source_id: rm.call_identifier(calls[r.source_id.partition(":")[2]], org.crm_field) for r in live}
    wanted = sorted({v for v in values.values() if v})
    persons: dict[str, list[str]] = defaultdict(list)
    for part in chunks(wanted, 300):
        for rec in await b.ctms.query(Select(cm.person, ["id", org.ctms_field]).filter(In(org.ctms_field, part))):
            persons[str(rec[org.ctms_field])].append(rec["id"])
    records, ready = [], []
    for row in live:
        matches = persons.get(values[row.source_id] or "", [])
        if len(matches) != 1:
            state = SyncState.NO_MATCH if not matches else SyncState.CONFLICT
            await _finish(ctx, row, worker, state.value, attempted=False,
                          error=f"{len(matches)} CTMS persons have {org.ctms_field} = {values[row.source_id]}")
            continue
        call = rm.call_from(calls[row.source_id.partition(":")[2]], org.name, matches[0])
        records.append(cm.medical_record(call, matches[0]))
        ready.append(row)
    if not ready:
        return
    results = await b.ctms.write("POST", cm.activity, records, id_param=cm.act_call_key)
    await ctx.store.finish_many(worker, [_outcome(row, res if isinstance(res, RowError) else res.get("id"))
                                         for row, res in zip(ready, results, strict=True)])

