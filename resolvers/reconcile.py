"""Reconciliation of one connection: both systems compared over a window of activity dates, and each missing,
stale or orphaned mirror planned again through the outbox, for the worker to deliver (upserted by external id).

Two directions: the CTMS's clinical activities and their Vault Clinical Interactions in the org; the org's calls
sent to Clinical and their Medical Activities in the CTMS. Each side is listed over the window, and what one side
lists without a counterpart is looked up on the other by id, wherever it is dated: a source whose mirror moved out
of the window is compared all the same, and a mirror is an orphan only when its source is really gone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, fields, replace
from datetime import date
from enum import Enum
from typing import TypeVar

from datasources.record_ids import is_record_id
from datasources.sources import Call, MirroredInteraction, Org
from datasources.store.models import Mirror
from datasources.store.repo import CTMS_TARGET, MirrorPlan
from domain import ClinicalActivity, MedicalActivity, Person, SyncState
from resolvers.context import RequestContext, Services, build_context
from resolvers.delivery import SYSTEM
from resolvers.errors import NotFound
from resolvers.planning import clinical_plans

S = TypeVar("S")
M = TypeVar("M")
# phase, done, total (0: not known yet)
Progress = Callable[[str, int, int], None]
# Activities matched at a time: their account lookups are batched together.
CHUNK = 200
POLL_S = 0.5


class Verdict(Enum):
    IN_STEP = "in_step"
    MISSING = "missing"
    STALE = "stale"
    ORPHANED = "orphaned"
    UNMATCHED = "unmatched"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True)
class Finding:
    """One source compared with its mirror, and the plan to record for it (None: nothing to record)."""

    kind: str  # clinical | medical
    source_id: str
    verdict: Verdict
    plan: MirrorPlan | None = None
    person_id: str | None = None
    deleted: bool = False


@dataclass
class Summary:
    """Each source (or orphaned mirror) compared counts once:
    compared = in_step + repaired + orphaned + unmatched + failed + pending."""

    compared: int = 0
    in_step: int = 0
    repaired: int = 0  # missing or stale mirrors, upserted again
    orphaned: int = 0  # mirrors whose source is gone (or no longer sent to Clinical), removed
    unmatched: int = 0  # sources with no or several counterparts (NO_MATCH, CONFLICT)
    failed: int = 0  # not compared (matching impossible) or the repair's delivery failed
    pending: int = 0  # already in the outbox, or the repair not delivered yet when the run ended

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_BUCKET = {Verdict.IN_STEP: "in_step", Verdict.MISSING: "repaired", Verdict.STALE: "repaired",
           Verdict.ORPHANED: "orphaned", Verdict.UNMATCHED: "unmatched", Verdict.FAILED: "failed",
           Verdict.PENDING: "pending"}


def tally(findings: list[Finding]) -> Summary:
    summary = Summary(compared=len(findings))
    for f in findings:
        bucket = _BUCKET[f.verdict]
        setattr(summary, bucket, getattr(summary, bucket) + 1)
    return summary


@dataclass
class _Phase:
    """One phase's progress, reported as it advances."""

    report: Progress
    name: str
    total: int
    done: int = 0

    def __post_init__(self) -> None:
        self.report(self.name, 0, self.total)

    def to(self, done: int) -> None:
        self.done = done
        self.report(self.name, done, self.total)


async def reconcile(services: Services, connection: str, since: date | None, *, dry_run: bool, progress: Progress,
                    wait_s: float) -> Summary:
    """Compare, plan the repairs (none with `dry_run`) and wait up to `wait_s` for the worker to deliver them
    (0: report what was planned). Raises NotFound for a connection that is not enabled, SourceError when a
    side cannot be listed."""
    ctx = await build_context(services, SYSTEM)
    org = ctx.org(connection)
    if org is None:
        raise NotFound(f"no enabled connection {connection}")
    ctx.orgs = [org]  # people are matched in this org only
    progress("listing", 0, 0)
    clinical, medical = await _both(clinical_pairs(ctx, org, since), medical_pairs(ctx, org, since))
    comparing = _Phase(progress, "comparing", len(clinical) + len(medical))
    findings = await judge_clinical(ctx, org, clinical, comparing)
    findings += await judge_medical(ctx, org, medical, comparing)
    if dry_run:
        return tally(findings)
    await repair(ctx, findings, progress)
    return tally(await settled(ctx, findings, wait_s, progress) if wait_s > 0 else findings)


# -- listing -------------------------------------------------------------------------------------------------
async def _both(first: Awaitable[S], second: Awaitable[M]) -> tuple[S, M]:
    """Both results; when one fails the other is cancelled, not left running."""
    a, b = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        return await a, await b
    except BaseException:
        a.cancel()
        b.cancel()
        await asyncio.gather(a, b, return_exceptions=True)
        raise


async def _pair(sources: dict[str, S], mirrors: dict[str, M],
                find_mirrors: Callable[[list[str]], Awaitable[dict[str, M]]],
                find_sources: Callable[[list[str]], Awaitable[dict[str, S]]]) -> dict[str, tuple[S | None, M | None]]:
    """Each key listed on either side with what both sides hold for it, the counterparts outside the window
    looked up by id."""
    unmirrored = [k for k in sources if k not in mirrors]
    if unmirrored:
        mirrors.update(await find_mirrors(unmirrored))
    unsourced = [k for k in mirrors if k not in sources]
    if unsourced:
        sources.update(await find_sources(unsourced))
    return {k: (sources.get(k), mirrors.get(k)) for k in sorted(sources.keys() | mirrors.keys())}


async def clinical_pairs(ctx: RequestContext, org: Org, since: date | None
                         ) -> dict[str, tuple[ClinicalActivity | None, MirroredInteraction | None]]:
    acts = {a.id: a for a in await ctx.clinical.clinical_since(since)}
    # A record whose external id is not a record id was not written by the gateway: no mirror of ours.
    held = {m.activity_id: m for m in await org.crm.interactions_since(since) if is_record_id(m.activity_id)}

    async def find_mirrors(ids: list[str]) -> dict[str, MirroredInteraction]:
        return {m.activity_id: m for m in await org.crm.interactions(ids)}

    async def find_sources(ids: list[str]) -> dict[str, ClinicalActivity]:
        return {a.id: a for a in await ctx.clinical.clinical(ids)}

    return await _pair(acts, held, find_mirrors, find_sources)


async def medical_pairs(ctx: RequestContext, org: Org, since: date | None
                        ) -> dict[str, tuple[Call | None, MedicalActivity | None]]:
    calls = {c.activity.call_key: c for c in await org.crm.calls_sent_since(since)}
    copies = {m.call_key: m for m in await ctx.clinical.medical_copies_since(org.name, since)
              if is_record_id(m.call_id)}

    async def find_mirrors(keys: list[str]) -> dict[str, MedicalActivity]:
        return {m.call_key: m for m in await ctx.clinical.medical_copies(keys)}

    async def find_sources(keys: list[str]) -> dict[str, Call]:
        return {c.activity.call_key: c for c in await org.crm.calls([k.partition(":")[2] for k in keys])}

    return await _pair(calls, copies, find_mirrors, find_sources)


async def _rows(ctx: RequestContext, kind: str, ids: list[str], target: str) -> dict[str, Mirror]:
    """The store's mirror row of each source in `target`, where there is one."""
    found = {}
    for source_id, rows in zip(ids, await ctx.store.mirrors_of(kind, ids), strict=True):
        row = next((r for r in rows if r.target == target), None)
        if row is not None:
            found[source_id] = row
    return found


# -- judging -------------------------------------------------------------------------------------------------
def _text(value: str | None) -> str | None:
    return value or None


def _waiting(row: Mirror | None) -> bool:
    """The outbox holds the mirror already: its delivery reads the source as it is then (and matches again if
    need be), so it brings the mirror in step whatever it was planned for. Nothing to plan."""
    return row is not None and row.state is SyncState.PENDING


def _unmatched(kind: str, source_id: str, plan: MirrorPlan, person_id: str | None, row: Mirror | None) -> Finding:
    """No single counterpart: recorded as the write path records it, unless the store says so already."""
    known = row is not None and row.state is plan.state
    return Finding(kind, source_id, Verdict.UNMATCHED, None if known else plan, person_id)


async def judge_clinical(ctx: RequestContext, org: Org, pairs: dict[str, tuple[ClinicalActivity | None,
                         MirroredInteraction | None]], phase: _Phase) -> list[Finding]:
    ids = list(pairs)
    rows = await _rows(ctx, "clinical", ids, org.name)
    person_ids = sorted({a.person_id for a, _ in pairs.values() if a is not None})
    people = {p.id: p for p in await ctx.loaders.person.load_many(person_ids) if p is not None}
    findings: list[Finding] = []
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        plans = await asyncio.gather(*(_match(ctx, pairs[i][0], people) for i in part))
        findings += [_clinical_verdict(org, i, *pairs[i], plan, rows.get(i)) for i, plan in zip(part, plans,
                                                                                                  strict=True)]
        phase.to(phase.done + len(part))
    return findings


async def _match(ctx: RequestContext, act: ClinicalActivity | None, people: dict[str, Person]) -> MirrorPlan | None:
    """The plan the write path would make for the activity in the org (the context holds that org alone)."""
    if act is None:
        return None
    [plan] = await clinical_plans(ctx, people.get(act.person_id))
    return plan


def _interaction(act: ClinicalActivity, account_id: str | None) -> tuple[Hashable, ...]:
    return (account_id, act.date, act.channel, act.completed, _text(act.subject), _text(act.owner),
            act.context.kind)


def _held_interaction(m: MirroredInteraction) -> tuple[Hashable, ...]:
    return (m.account_id, m.date, m.channel, m.completed, _text(m.subject), _text(m.owner), m.context)


def _clinical_verdict(org: Org, source_id: str, act: ClinicalActivity | None, held: MirroredInteraction | None,
                      plan: MirrorPlan | None, row: Mirror | None) -> Finding:
    if _waiting(row):
        return Finding("clinical", source_id, Verdict.PENDING)
    if act is None or plan is None:
        return Finding("clinical", source_id, Verdict.ORPHANED, MirrorPlan(org.name), deleted=True)
    if plan.state is SyncState.PENDING and plan.match_id is None:  # the org could not be asked who matches
        return Finding("clinical", source_id, Verdict.FAILED)
    if plan.state is not SyncState.PENDING:
        return _unmatched("clinical", source_id, plan, act.person_id, row)
    if held is None:
        return Finding("clinical", source_id, Verdict.MISSING, plan, person_id=act.person_id)
    if _interaction(act, plan.match_id) != _held_interaction(held):
        return Finding("clinical", source_id, Verdict.STALE, plan, person_id=act.person_id)
    return Finding("clinical", source_id, Verdict.IN_STEP)


async def judge_medical(ctx: RequestContext, org: Org, pairs: dict[str, tuple[Call | None, MedicalActivity | None]],
                        phase: _Phase) -> list[Finding]:
    keys = list(pairs)
    rows = await _rows(ctx, "medical", keys, CTMS_TARGET)
    values = sorted({c.identifier for c, _ in pairs.values() if c is not None and c.sent and c.identifier})
    persons = await ctx.clinical.people_with(org.ctms_field, values) if values else {}
    findings = [_medical_verdict(org, k, *pairs[k], persons, rows.get(k)) for k in keys]
    phase.to(phase.done + len(keys))
    return findings


def _copy(m: MedicalActivity, person_id: str | None) -> tuple[Hashable, ...]:
    return (person_id, m.date, m.channel, m.completed, _text(m.subject), _text(m.owner))


def _medical_verdict(org: Org, key: str, call: Call | None, copy: MedicalActivity | None,
                     persons: dict[str, list[str]], row: Mirror | None) -> Finding:
    if _waiting(row):
        return Finding("medical", key, Verdict.PENDING)
    if call is None or not call.sent:
        return Finding("medical", key, Verdict.ORPHANED, MirrorPlan(CTMS_TARGET), deleted=call is None)
    matches = persons.get(call.identifier or "", [])
    if len(matches) != 1:
        state = SyncState.NO_MATCH if not matches else SyncState.CONFLICT
        error = f"{len(matches)} CTMS persons have {org.ctms_field} = {call.identifier}"
        return _unmatched("medical", key, MirrorPlan(CTMS_TARGET, state, error), None, row)
    plan = MirrorPlan(CTMS_TARGET, match_id=matches[0])
    if copy is None:
        return Finding("medical", key, Verdict.MISSING, plan, person_id=matches[0])
    if _copy(call.activity, matches[0]) != _copy(copy, copy.person_id):
        return Finding("medical", key, Verdict.STALE, plan, person_id=matches[0])
    return Finding("medical", key, Verdict.IN_STEP)


# -- repairing -----------------------------------------------------------------------------------------------
async def repair(ctx: RequestContext, findings: list[Finding], progress: Progress) -> None:
    """Record each plan in the outbox as the write path does (coalescing into the mirror's row)."""
    todo = [f for f in findings if f.plan is not None]
    phase = _Phase(progress, "repairing", len(todo))
    for n, f in enumerate(todo, 1):
        assert f.plan is not None
        await ctx.store.plan_mirrors(f.kind, f.source_id, f.person_id, [f.plan], deleted=f.deleted)
        phase.to(n)
    if todo and ctx.services.wake_worker:
        ctx.services.wake_worker()


def _awaited(f: Finding) -> bool:
    return f.plan is not None and f.plan.state is SyncState.PENDING


async def _states(ctx: RequestContext, findings: list[Finding]) -> dict[tuple[str, str], SyncState]:
    states: dict[tuple[str, str], SyncState] = {}
    for kind in ("clinical", "medical"):
        mine = [f for f in findings if f.kind == kind]
        for f, rows in zip(mine, await ctx.store.mirrors_of(kind, [f.source_id for f in mine]), strict=True):
            row = next((r for r in rows if f.plan is not None and r.target == f.plan.target), None)
            if row is not None:
                states[(kind, f.source_id)] = row.state
    return states


_SETTLED = {SyncState.FAILED: Verdict.FAILED, SyncState.NO_MATCH: Verdict.UNMATCHED,
            SyncState.CONFLICT: Verdict.UNMATCHED, SyncState.PENDING: Verdict.PENDING}


async def settled(ctx: RequestContext, findings: list[Finding], wait_s: float, progress: Progress) -> list[Finding]:
    """The findings once the planned repairs were delivered, or `wait_s` ran out: a repair whose delivery failed
    counts as failed, one that found no single counterpart as unmatched, one not delivered yet as pending."""
    waiting = [f for f in findings if _awaited(f)]
    phase = _Phase(progress, "delivering", len(waiting))
    deadline = time.monotonic() + wait_s
    while True:
        states = await _states(ctx, waiting)
        left = sum(1 for f in waiting if states.get((f.kind, f.source_id)) is SyncState.PENDING)
        phase.to(len(waiting) - left)
        if not left or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    return [_after(f, states.get((f.kind, f.source_id))) for f in findings]


def _after(f: Finding, state: SyncState | None) -> Finding:
    """A finding as its repair's delivery left it."""
    if not _awaited(f) or state not in _SETTLED:
        return f
    return replace(f, verdict=_SETTLED[state])
