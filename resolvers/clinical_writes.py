"""Clinical activities written through: the CTMS first, then their Vault Clinical Interactions in each org."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import date

from datasources.errors import RowError, SourceError
from datasources.events import Change
from datasources.record_ids import is_record_id
from datasources.sources import ClinicalChanges
from datasources.store.models import Intent, Mirror
from datasources.store.repo import MirrorPlan
from domain import (
    Channel,
    ClinicalActivity,
    ContextKind,
    IntentStatus,
    NewClinicalActivity,
    Person,
    SyncState,
    UserError,
    ValidationFailed,
    validate_new_activity,
    validate_update,
)
from resolvers import activities
from resolvers.context import RequestContext
from resolvers.crash import crash_point
from resolvers.ids import decode_id
from resolvers.inline_delivery import await_delivery, claim, deliver_inline, requests_out, start_delivery
from resolvers.intents import WriteResult, audit, audit_entry, begin
from resolvers.planning import clinical_plans, prefetch_matching

_CONTEXT_TYPES = {ContextKind.STUDY: "Study", ContextKind.STUDY_COUNTRY: "StudyCountry",
                  ContextKind.STUDY_SITE: "StudySite", ContextKind.STUDY_PERSONNEL: "StudyPersonnel"}
_CONTEXT_FIELDS = {ContextKind.STUDY: "studyId", ContextKind.STUDY_COUNTRY: "studyCountryId",
                   ContextKind.STUDY_SITE: "studySiteId", ContextKind.STUDY_PERSONNEL: "studyPersonnelId"}


async def create_clinical(ctx: RequestContext, *, person_id: str, contexts: dict[ContextKind, str | None],
                          day: date, channel: Channel, completed: bool, subject: str | None,
                          idempotency_key: str | None) -> WriteResult:
    """Create a clinical activity in the CTMS behind a recorded intent, then plan its mirrors and deliver them."""
    new = _new_activity(ctx, person_id=person_id, contexts=contexts, day=day, channel=channel, completed=completed,
                        subject=subject, idempotency_key=idempotency_key)
    if not isinstance(new, NewClinicalActivity):
        return WriteResult(errors=new)
    lookups = _start_lookups(ctx, new)
    await requests_out()
    try:
        intent, done = await begin(ctx, "createClinicalActivity", _create_payload(ctx, new), idempotency_key)
    except ValidationFailed as exc:
        return WriteResult(errors=exc.errors)
    if done:
        return WriteResult(activity=await activities.clinical(ctx, done))
    crash_point(ctx, "after_intent")
    written = await _write_to_ctms(ctx, new, intent)
    if isinstance(written, RowError):
        return WriteResult(errors=await _refused_create(ctx, new, intent, written, lookups))
    crash_point(ctx, "after_source_write")
    activity = ClinicalActivity(written, new.person_id, new.context, new.date, new.channel, new.completed,
                                new.subject, ctx.actor.owner)
    delivering = await _commit_create(ctx, intent, activity, lookups.person)
    crash_point(ctx, "after_commit")
    await await_delivery(ctx, delivering)
    crash_point(ctx, "after_delivery")
    return WriteResult(activity=activity)


def _new_activity(ctx: RequestContext, *, person_id: str, contexts: dict[ContextKind, str | None], day: date,
                  channel: Channel, completed: bool, subject: str | None,
                  idempotency_key: str | None) -> NewClinicalActivity | list[UserError]:
    """The activity to write, or every problem with the input: ids that do not decode, invalid values, and
    references that are not even CTMS record ids (nothing to look up)."""
    errors: list[UserError] = []
    pid = decode_id(person_id, "Person", ["input", "personId"], errors)
    ctx_ids = {k: decode_id(v, _CONTEXT_TYPES[k], ["input", "context", _CONTEXT_FIELDS[k]], errors)
               for k, v in contexts.items()}
    # What was given counts even when it did not decode, so that every problem is reported at once.
    try:
        new = validate_new_activity(
            person_id=pid or person_id or None, contexts={k: ctx_ids[k] or contexts[k] or None for k in contexts},
            day=day, channel=channel, completed=completed, subject=subject, today=ctx.services.today(),
            idempotency_key=idempotency_key)
    except ValidationFailed as exc:
        return errors + exc.errors
    if errors:
        return errors
    return _unknown(new, person_found=is_record_id(new.person_id), context_found=is_record_id(new.context.id)) or new


@dataclass(frozen=True)
class _Lookups:
    """The person and the context a new activity names, looked up while it is written."""

    person: asyncio.Future[Person | None]
    context: asyncio.Future[object]


def _start_lookups(ctx: RequestContext, new: NewClinicalActivity) -> _Lookups:
    """Start the lookups that run while the intent is recorded and the CTMS written: the CTMS refuses unknown
    references itself, and these tell which input was at fault; the person's accounts are asked for too."""
    lookups = _Lookups(ctx.loaders.person.load(new.person_id),
                       _context_loader(ctx, new.context.kind).load(new.context.id))
    prefetch_matching(ctx, new.person_id)
    return lookups


def _create_payload(ctx: RequestContext, new: NewClinicalActivity) -> dict[str, object]:
    """What the intent of a create records (a replay under the same key must match it)."""
    return {"personId": new.person_id, "context": [new.context.kind.name, new.context.id], "date": new.date,
            "channel": new.channel.value, "completed": new.completed, "subject": new.subject,
            "actor": ctx.actor.sub}


async def _write_to_ctms(ctx: RequestContext, new: NewClinicalActivity, intent: Intent) -> str | RowError:
    """Create the activity in the CTMS, keyed by the intent; a CTMS that cannot answer is audited, then raised."""
    try:
        return await ctx.clinical.create_clinical(new, owner=ctx.actor.owner, marker=intent.id)
    except SourceError as exc:
        await audit(ctx, "createClinicalActivity", None, "unavailable", {"intent": intent.id,
                                                                          "error": exc.code or exc.reason})
        raise


async def _refused_create(ctx: RequestContext, new: NewClinicalActivity, intent: Intent, refusal: RowError,
                          lookups: _Lookups) -> list[UserError]:
    """A create the CTMS refused abandons its intent, is audited, and names the unknown reference if one was."""
    await ctx.store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
    await audit(ctx, "createClinicalActivity", None, "refused", {"intent": intent.id, "error": refusal.code})
    found = await asyncio.gather(lookups.person, lookups.context, return_exceptions=True)
    missing = _unknown(new, person_found=found[0] is not None, context_found=found[1] is not None)
    return missing or [UserError(("input",), "the CTMS refused the activity", refusal.code)]


async def _commit_create(ctx: RequestContext, intent: Intent, activity: ClinicalActivity,
                         person: Awaitable[Person | None]) -> asyncio.Task[None] | None:
    """Finish the intent with the mirrors the new activity needs and its audit entry, in one transaction, and
    start delivering them inline: while that transaction commits when every mirror is matched already (the
    outcomes wait for the commit), after it otherwise. Returns the delivery once committed."""
    try:
        plans = await clinical_plans(ctx, await person)
    except SourceError:
        plans = [MirrorPlan(o.name) for o in ctx.orgs]  # matched at delivery instead
    worker, lease = claim(ctx)
    ahead = _ahead(activity, plans)
    committing: asyncio.Future[list[Mirror]] = asyncio.get_running_loop().create_future()
    delivering = start_delivery(ctx, ahead, worker, known=activity, committing=committing) if ahead else None
    if delivering is not None:
        await requests_out()
    try:
        claimed = await ctx.store.complete_intent(
            intent.id, activity.id, kind="clinical", source_id=activity.id, person_id=activity.person_id,
            plans=plans, audit=audit_entry(ctx, "createClinicalActivity", activity.id, {"intent": intent.id}),
            claim=(worker, lease), change=Change.CREATED)
    except BaseException:
        committing.set_exception(RuntimeError("not committed"))  # the delivery records nothing
        raise
    committing.set_result(claimed)
    return delivering if ahead is not None else start_delivery(ctx, claimed, worker, known=activity)


def _ahead(activity: ClinicalActivity, plans: list[MirrorPlan]) -> list[Mirror] | None:
    """The mirrors of a new activity as its commit is to claim them, to deliver while it commits; None when one
    is still to be matched (delivered once stored)."""
    pending = [p for p in plans if p.state is SyncState.PENDING]
    if any(p.match_id is None for p in pending):
        return None
    return [Mirror(source_kind="clinical", source_id=activity.id, target=p.target, person_id=activity.person_id,
                   match_id=p.match_id) for p in pending]


def _unknown(new: NewClinicalActivity, *, person_found: bool, context_found: bool) -> list[UserError]:
    missing = []
    if not person_found:
        missing.append(UserError(("input", "personId"), f"no person {new.person_id[:40]} in the CTMS", "NOT_FOUND"))
    if not context_found:
        missing.append(UserError(("input", "context", _CONTEXT_FIELDS[new.context.kind]),
                                 f"no {new.context.kind.value} {new.context.id[:40]} in the CTMS", "NOT_FOUND"))
    return missing


def _context_loader(ctx: RequestContext, kind: ContextKind):  # noqa: ANN202
    loaders = ctx.loaders
    return {ContextKind.STUDY: loaders.study, ContextKind.STUDY_COUNTRY: loaders.country,
            ContextKind.STUDY_SITE: loaders.site, ContextKind.STUDY_PERSONNEL: loaders.personnel}[kind]


async def _if_refused(ctx: RequestContext, intent: Intent, refusal: RowError | None, field: tuple[str, ...],
                      what: str) -> WriteResult | None:
    """A CTMS write's refusal abandons the intent and becomes a user error."""
    if refusal is None:
        return None
    await ctx.store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
    return WriteResult(errors=[UserError(field, f"the CTMS refused the {what}", refusal.code)])


async def update_clinical(ctx: RequestContext, *, activity_id: str, day: date | None, channel: Channel | None,
                          completed: bool | None, subject: str | None, subject_set: bool) -> WriteResult:
    """Change a clinical activity in the CTMS, then plan its mirrors again and deliver them."""
    errors: list[UserError] = []
    aid = decode_id(activity_id, "ClinicalActivity", ["input", "id"], errors)
    if aid is None:
        return WriteResult(errors=errors)
    current = await activities.clinical(ctx, aid)
    if current is None:
        return WriteResult(errors=[UserError(("input", "id"), f"no clinical activity {aid} in the CTMS",
                                             "NOT_FOUND")])
    merged = replace(current, date=day or current.date, channel=channel or current.channel,
                     completed=current.completed if completed is None else completed,
                     subject=subject if subject_set else current.subject)
    try:
        validate_update(day=merged.date, completed=merged.completed, subject=merged.subject,
                        today=ctx.services.today())
    except ValidationFailed as exc:
        return WriteResult(errors=exc.errors)
    changes = ClinicalChanges(day, channel, completed, subject, subject_set)
    intent, _ = await begin(ctx, "updateClinicalActivity", {"id": aid, **changes.summary(), "at": uuid.uuid4().hex},
                            None)
    if not changes.empty:
        refused = await _if_refused(ctx, intent, await ctx.clinical.update_clinical(aid, changes), ("input",),
                                    "change")
        if refused:
            return refused
    person = await ctx.loaders.person.load(current.person_id)
    worker, lease = claim(ctx)
    claimed = await ctx.store.complete_intent(
        intent.id, aid, kind="clinical", source_id=aid, person_id=current.person_id,
        plans=await clinical_plans(ctx, person), claim=(worker, lease),
        audit=audit_entry(ctx, "updateClinicalActivity", aid, {"intent": intent.id, "changes": changes.summary()}),
        change=Change.UPDATED)
    await deliver_inline(ctx, claimed, worker, known=merged)
    return WriteResult(activity=merged)


async def delete_clinical(ctx: RequestContext, activity_id: str) -> WriteResult:
    """Delete a clinical activity in the CTMS, then plan the deletion of its mirrors and deliver it."""
    errors: list[UserError] = []
    aid = decode_id(activity_id, "ClinicalActivity", ["id"], errors)
    if aid is None:
        return WriteResult(errors=errors)
    current = await activities.clinical(ctx, aid)
    if current is None:
        return WriteResult(errors=[UserError(("id",), f"no clinical activity {aid} in the CTMS", "NOT_FOUND")])
    intent, _ = await begin(ctx, "deleteClinicalActivity", {"id": aid}, None)
    refused = await _if_refused(ctx, intent, await ctx.clinical.delete_clinical(aid), ("id",), "deletion")
    if refused:
        return refused
    worker, lease = claim(ctx)
    claimed = await ctx.store.complete_intent(
        intent.id, aid, kind="clinical", source_id=aid, person_id=current.person_id,
        plans=[MirrorPlan(o.name) for o in ctx.orgs], deleted=True, claim=(worker, lease),
        audit=audit_entry(ctx, "deleteClinicalActivity", aid, {"intent": intent.id}), change=Change.DELETED)
    await deliver_inline(ctx, claimed, worker)
    return WriteResult(deleted_id=aid)
