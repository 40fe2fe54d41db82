"""Delivery of pending mirrors: idempotent upserts by external id, batched per target, retried with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
from datetime import timedelta

from opentelemetry.trace import SpanKind

from datasources.errors import RowError, SourceError, SourceRejected, SourceUnavailable
from datasources.http import backoff_delay
from datasources.sources import Call, Interaction, Org
from datasources.store.models import Mirror, utcnow
from datasources.store.repo import CTMS_TARGET, MirrorState, Outcome
from datasources.trace_context import links_to
from domain import ClinicalActivity, ContextKind, MedicalActivity, SyncState
from domain.permissions import Actor
from resolvers.context import RequestContext, Services, build_context
from resolvers.planning import clinical_plans, no_single_person
from resolvers.tracing import own_trace, traced

log = logging.getLogger("ccgw.delivery")
SYSTEM = Actor("ccgw:worker", "ccgw", "worker", "worker@ccgw.invalid", frozenset())
BATCH = 1000
LEASE_S = 120.0
# Set while a mutation delivers mirrors its transaction is still committing: every target's outcomes, recorded
# together in one transaction once all are in and that commit is done.
_OUTCOMES: ContextVar[list[Outcome] | None] = ContextVar("outcomes", default=None)


async def deliver_due(services: Services, worker: str, *, target: str | None = None,
                      ids: Sequence[int] | None = None, source: tuple[str, str] | None = None,
                      ctx: RequestContext | None = None, known: dict[str, ClinicalActivity] | None = None) -> int:
    """Claim and deliver due mirrors, a batch per target; returns how many were handled.

    A mutation passes its own context (warm loaders) and the records it has just written (`known`)."""
    rows = await services.store.claim(worker, limit=BATCH, lease_s=LEASE_S, target=target, ids=ids, source=source)
    if not rows:
        return 0
    if ctx is not None:
        await deliver_claimed(ctx, rows, worker, known)
        return len(rows)
    # The worker's batch is a trace of its own, linked to the requests (or polls) that planned its mirrors.
    with own_trace(services.tracer, "deliver mirrors", kind=SpanKind.CONSUMER,
                   links=links_to(row.trace_parent for row in rows), attributes={"ccgw.mirrors": len(rows)}):
        await deliver_claimed(await build_context(services, SYSTEM), rows, worker, known)
    return len(rows)


async def deliver_claimed(ctx: RequestContext, rows: Sequence[Mirror], worker: str,
                          known: dict[str, ClinicalActivity] | None = None,
                          committing: asyncio.Future[list[Mirror]] | None = None) -> None:
    """Deliver mirrors this worker holds, each target's batch concurrently with the others.

    With `committing`, `rows` are not stored yet: that transaction stores and claims them, and the outcomes wait
    for it (the requests to the targets go out meanwhile)."""
    collected: list[Outcome] = []
    token = _OUTCOMES.set(collected) if committing is not None else None  # the per-target tasks share the list
    try:
        by_target: dict[str, list[Mirror]] = defaultdict(list)
        for row in rows:
            by_target[row.target].append(row)
        await asyncio.gather(*(_deliver_traced(ctx, t, batch, worker, known) for t, batch in by_target.items()))
    finally:
        if token is not None:
            _OUTCOMES.reset(token)
    if committing is not None:
        _show(ctx, await _record_committed(ctx, worker, committing, collected))


async def _deliver_traced(ctx: RequestContext, target: str, rows: list[Mirror], worker: str,
                          known: dict[str, ClinicalActivity] | None) -> None:
    """deliver(), in a span of its own: a child of the request's (inline) or of the worker's batch."""
    with traced(ctx.services.tracer, f"deliver {target}", attributes={"ccgw.target": target,
                                                                      "ccgw.mirrors": len(rows)}):
        await deliver(ctx, target, rows, worker, known)


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
        await _record(ctx, worker, [_retry_or_fail(ctx, row, exc) for row in rows])
    except Exception:  # noqa: BLE001 - a delivery bug must not kill the worker; the rows stay visible
        log.exception("delivery to %s failed", target)
        failed = [Outcome(row, SyncState.FAILED, error="internal error") for row in rows]
        await _record(ctx, worker, failed)


async def _finish(ctx: RequestContext, row: Mirror, worker: str, state: SyncState, *,
                  remote_id: str | None = None, error: str | None = None, attempted: bool = True) -> None:
    await _record(ctx, worker, [Outcome(row, state, remote_id, error, attempted=attempted,
                                        delivered_version=row.version)])


async def _record(ctx: RequestContext, worker: str, outcomes: list[Outcome]) -> None:
    """Record delivery outcomes; those of a delivery started before its mirrors were committed are collected,
    recorded together once every target's are in (deliver_claimed)."""
    collected = _OUTCOMES.get()
    if collected is not None:
        collected.extend(outcomes)
        return
    await ctx.store.finish_many(worker, outcomes)


async def _record_committed(ctx: RequestContext, worker: str, committing: asyncio.Future[list[Mirror]],
                            outcomes: list[Outcome]) -> list[MirrorState]:
    """Record the outcomes of a delivery started before its mirrors were committed (see `committing`): it waits
    for that commit and records them against the rows it claimed, and only those: when the commit failed or
    claimed a row elsewhere, what was sent (an idempotent upsert) is sent again by whoever holds the row."""
    try:
        rows = {(r.source_kind, r.source_id, r.target): r for r in await committing}
    except Exception:  # noqa: BLE001 - the mutation that awaits the commit reports its failure
        return []
    held = [replace(o, mirror=row, delivered_version=row.version if o.delivered_version is not None else None)
            for o in outcomes
            if (row := rows.get((o.mirror.source_kind, o.mirror.source_id, o.mirror.target))) is not None]
    return await ctx.store.record_outcomes(worker, held)


def _show(ctx: RequestContext, states: list[MirrorState]) -> None:
    """Let the mutation answer its `sync` from the states just recorded, for each record whose every shown
    mirror (one per org of a clinical activity, the CTMS's of a call) was among them."""
    by_key: dict[tuple[str, str], list[MirrorState]] = defaultdict(list)
    for state in states:
        by_key[state.source_kind, state.source_id].append(state)
    orgs = {o.name for o in ctx.orgs}
    for (kind, source_id), rows in by_key.items():
        if (orgs if kind == "clinical" else {CTMS_TARGET}) <= {r.target for r in rows}:
            ctx.known_mirror_rows(kind, source_id, rows)


async def _not_enabled(ctx: RequestContext, rows: list[Mirror], worker: str, connection: str) -> None:
    error = f"connection {connection} is not enabled"
    failed = [Outcome(row, SyncState.FAILED, error=error, attempted=False) for row in rows]
    await _record(ctx, worker, failed)


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
        return Outcome(row, SyncState.FAILED, error=_refused(row.target, result.code),
                       delivered_version=row.version)
    return Outcome(row, SyncState.SYNCED, remote_id=result, delivered_version=row.version)


def _retry_or_fail(ctx: RequestContext, row: Mirror, exc: SourceError) -> Outcome:
    """Try again later with jittered exponential backoff, or FAILED once attempts run out or retrying is futile."""
    attempts = row.attempts + 1
    if not exc.retryable or attempts >= ctx.services.max_attempts:
        return Outcome(row, SyncState.FAILED, error=sync_error(exc))
    delay = max(0.2, backoff_delay(attempts, 1.0, 300.0))
    return Outcome(row, SyncState.PENDING, error=sync_error(exc), retry_at=utcnow() + timedelta(seconds=delay))


# -- clinical activity -> Vault Clinical Interaction in one org ----------------------------------------------
async def _deliver_clinical(ctx: RequestContext, org: Org, rows: list[Mirror], worker: str,
                            known: dict[str, ClinicalActivity]) -> None:
    """Write the interactions of the activities still in the CTMS, and delete those of activities gone."""
    activities = await _activities_of(ctx, rows, known)
    gone = [r for r in rows if r.source_id not in activities]
    if gone:
        await _delete_interactions(ctx, org, gone, worker)
    ready = await _matched(ctx, org, [r for r in rows if r.source_id in activities], activities, worker)
    if ready:
        await _upsert_interactions(ctx, org, ready, activities, worker)


async def _activities_of(ctx: RequestContext, rows: list[Mirror],
                         known: dict[str, ClinicalActivity]) -> dict[str, ClinicalActivity]:
    """The activities the mirrors are of, by id: as just written when known, otherwise read from the CTMS (an
    activity deleted there is missing)."""
    activities = {r.source_id: known[r.source_id] for r in rows if r.source_id in known and not r.deleted}
    unknown = [r.source_id for r in rows if r.source_id not in activities]
    if unknown:
        activities.update({a.id: a for a in await ctx.clinical.clinical(unknown)})
    return activities


async def _matched(ctx: RequestContext, org: Org, rows: list[Mirror], activities: dict[str, ClinicalActivity],
                   worker: str) -> list[Mirror]:
    """The mirrors with their account: one planned while matching was impossible is matched now, and finished
    without a write when its person has no single account in the org."""
    ready: list[Mirror] = []
    for row in rows:
        if row.match_id is None:
            person = await ctx.loaders.person.load(activities[row.source_id].person_id)
            plan = next(p for p in await clinical_plans(ctx, person) if p.target == org.name)
            if plan.state is not SyncState.PENDING or plan.match_id is None:
                if plan.state is SyncState.PENDING:  # matching postponed: the org is unreachable, try again later
                    raise SourceUnavailable(org.source, plan.error or "matching failed")
                await _finish(ctx, row, worker, plan.state, error=plan.error, attempted=False)
                continue
            row.match_id = plan.match_id
        ready.append(row)
    return ready


async def _upsert_interactions(ctx: RequestContext, org: Org, rows: list[Mirror],
                               activities: dict[str, ClinicalActivity], worker: str) -> None:
    """Upsert the matched mirrors in one batch, with the study and site records they refer to."""
    refs = await _study_refs(ctx, org, [activities[r.source_id] for r in rows])
    interactions = [Interaction(activities[r.source_id], r.match_id or "", *refs[r.source_id]) for r in rows]
    try:
        results = await org.crm.upsert_interactions(interactions)
    except SourceRejected as exc:
        log.warning("delivery of %d mirrors to %s refused (status %s, code %s)", len(rows), org.name, exc.status,
                    exc.code)
        await _record(ctx, worker, [Outcome(row, SyncState.FAILED, error=sync_error(exc),
                                                     delivered_version=row.version) for row in rows])
        return
    await _record(ctx, worker, [_outcome(row, res) for row, res in zip(rows, results, strict=True)])


async def _placed(ctx: RequestContext, act: ClinicalActivity) -> tuple[str | None, str | None, str | None]:
    """The CTMS study and site an activity's context lies in, and the context's name (a personnel's role)."""
    ref, loaders = act.context, ctx.loaders
    if ref.kind is ContextKind.STUDY:
        study = await loaders.study.load(ref.id)
        return (study.id, None, study.name) if study else (None, None, None)
    if ref.kind is ContextKind.STUDY_COUNTRY:
        c = await loaders.country.load(ref.id)
        return (c.study_id, None, c.name) if c else (None, None, None)
    if ref.kind is ContextKind.STUDY_SITE:
        s = await loaders.site.load(ref.id)
        return (s.study_id, s.id, s.name) if s else (None, None, None)
    p = await loaders.personnel.load(ref.id)
    return (p.study_id, p.site_id, p.role) if p else (None, None, None)


async def _study_refs(ctx: RequestContext, org: Org, acts: list[ClinicalActivity]
                      ) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Upsert the Clinical Study / Clinical Site records the interactions refer to; per activity, their ids in the
    org and the context's name."""
    loaders, cache = ctx.loaders, ctx.services.synced_refs
    placed = {act.id: await _placed(ctx, act) for act in acts}
    study_ids = sorted({s for s, _, _ in placed.values() if s and (org.name, "study", s) not in cache})
    site_ids = sorted({x for _, x, _ in placed.values() if x and (org.name, "site", x) not in cache})
    if study_ids:
        studies = [s for s in await loaders.study.load_many(study_ids) if s]
        for s, res in zip(studies, await org.crm.upsert_studies(studies), strict=True):
            if isinstance(res, RowError):
                raise SourceRejected(org.source, f"Clinical Study {s.id} refused", code=res.code)
            cache[(org.name, "study", s.id)] = res
    if site_ids:
        sites = [s for s in await loaders.site.load_many(site_ids) if s]
        refs = [(s, cache.get((org.name, "study", s.study_id))) for s in sites]
        for s, res in zip(sites, await org.crm.upsert_sites(refs), strict=True):
            if isinstance(res, RowError):
                raise SourceRejected(org.source, f"Clinical Site {s.id} refused", code=res.code)
            cache[(org.name, "site", s.id)] = res
    return {aid: (cache.get((org.name, "study", s)) if s else None, cache.get((org.name, "site", x)) if x else None,
                  name) for aid, (s, x, name) in placed.items()}


async def _delete_interactions(ctx: RequestContext, org: Org, rows: list[Mirror], worker: str) -> None:
    deleted = await org.crm.delete_interactions([r.source_id for r in rows])
    for row in rows:
        await _finish(ctx, row, worker, SyncState.SYNCED, remote_id=deleted.get(row.source_id))


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
    """Write the CTMS copies of the calls still sent to Clinical, and delete those of calls withdrawn or gone."""
    sent = await _sent_calls(org, rows)
    withdrawn = [r for r in rows if r.source_id not in sent]
    if withdrawn:
        await ctx.clinical.delete_medical([r.source_id for r in withdrawn])
        for row in withdrawn:
            await _finish(ctx, row, worker, SyncState.SYNCED, remote_id=None)
    live = [r for r in rows if r not in withdrawn]
    if not live:
        return
    copies, ready = await _copies_with_person(ctx, org, live, sent, worker)
    if not ready:
        return
    results = await ctx.clinical.upsert_medical(copies)
    await _record(ctx, worker, [replace(_outcome(row, res), person_id=copy.person_id)
                                for row, res, copy in zip(ready, results, copies, strict=True)])


async def _sent_calls(org: Org, rows: list[Mirror]) -> dict[str, Call]:
    """The calls of these mirrors that are still sent to Clinical, by call key."""
    found = {c.activity.call_id: c for c in await org.crm.calls([r.source_id.partition(":")[2] for r in rows])}
    sent: dict[str, Call] = {}
    for row in rows:
        call = found.get(row.source_id.partition(":")[2])
        if call is not None and call.sent:
            sent[row.source_id] = call
    return sent


async def _copies_with_person(ctx: RequestContext, org: Org, rows: list[Mirror], sent: dict[str, Call],
                              worker: str) -> tuple[list[MedicalActivity], list[Mirror]]:
    """The CTMS copies of the calls whose account's identifier finds one CTMS person, and their mirrors; the
    others are finished as NO_MATCH or CONFLICT without a write."""
    values = {r.source_id: sent[r.source_id].identifier for r in rows}
    persons = await ctx.clinical.people_with(org.ctms_field, sorted({v for v in values.values() if v}))
    copies: list[MedicalActivity] = []
    ready: list[Mirror] = []
    for row in rows:
        matches = persons.get(values[row.source_id] or "", [])
        if len(matches) != 1:
            state = SyncState.NO_MATCH if not matches else SyncState.CONFLICT
            await _finish(ctx, row, worker, state, attempted=False, error=no_single_person(len(matches)))
            continue
        copies.append(replace(sent[row.source_id].activity, person_id=matches[0]))
        ready.append(row)
    return copies, ready
