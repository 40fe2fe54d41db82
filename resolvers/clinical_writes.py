"""Clinical activities written through: the CTMS first, then their Vault Clinical Interactions in each org."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import date

from datasources.errors import RowError, SourceError
from datasources.record_ids import is_record_id
from datasources.sources import ClinicalChanges
from datasources.store.models import Intent
from datasources.store.repo import MirrorPlan
from domain import (
    Channel,
    ClinicalActivity,
    ContextKind,
    IntentStatus,
    NewClinicalActivity,
    UserError,
    ValidationFailed,
    validate_new_activity,
    validate_update,
)
from resolvers import activities
from resolvers.context import RequestContext
from resolvers.errors import BadInput
from resolvers.ids import raw_id
from resolvers.intents import (
    WriteResult,
    audit,
    audit_entry,
    begin,
    claim,
    crash_point,
    decode_id,
    deliver_inline,
)
from resolvers.planning import clinical_plans, medical_plan, prefetch_matching

_CONTEXT_TYPES = {ContextKind.STUDY: "Study", ContextKind.STUDY_COUNTRY: "StudyCountry",
                  ContextKind.STUDY_SITE: "StudySite", ContextKind.STUDY_PERSONNEL: "StudyPersonnel"}
_CONTEXT_FIELDS = {ContextKind.STUDY: "studyId", ContextKind.STUDY_COUNTRY: "studyCountryId",
                   ContextKind.STUDY_SITE: "studySiteId", ContextKind.STUDY_PERSONNEL: "studyPersonnelId"}


async def create_clinical(ctx: RequestContext, *, person_id: str, contexts: dict[ContextKind, str | None],
                          day: date, channel: Channel, completed: bool, subject: str | None,
                          idempotency_key: str | None) -> WriteResult:
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
        return WriteResult(errors=errors + exc.errors)
    if errors:
        return WriteResult(errors=errors)
    unknown = _unknown(new, person_found=is_record_id(new.person_id), context_found=is_record_id(new.context.id))
    if unknown:  # not even CTMS record ids: nothing to look up
        return WriteResult(errors=unknown)
    # The lookups run while the intent is recorded and the CTMS written: the CTMS refuses unknown references
    # itself, and these tell which input was at fault; the person's accounts are asked for at the same time.
    person_f = ctx.loaders.person.load(new.person_id)
    context_f = _context_loader(ctx, new.context.kind).load(new.context.id)
    prefetch_matching(ctx, new.person_id)
    payload = {"personId": new.person_id, "context": [new.context.kind.name, new.context.id], "date": day,
               "channel": channel.value, "completed": completed, "subject": subject, "actor": ctx.actor.sub}
    try:
        intent, done = await begin(ctx, "createClinicalActivity", payload, idempotency_key)
    except ValidationFailed as exc:
        return WriteResult(errors=exc.errors)
    if done:
        return WriteResult(activity=await activities.clinical(ctx, done))
    crash_point(ctx, "after_intent")
    owner = ctx.actor.owner
    try:
        result = await ctx.clinical.create_clinical(new, owner=owner, marker=intent.id)
    except SourceError as exc:
        await audit(ctx, "createClinicalActivity", None, "unavailable", {"intent": intent.id,
                                                                          "error": exc.code or exc.reason})
        raise
    if isinstance(result, RowError):
        await ctx.store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
        await audit(ctx, "createClinicalActivity", None, "refused", {"intent": intent.id, "error": result.code})
        found = await asyncio.gather(person_f, context_f, return_exceptions=True)
        missing = _unknown(new, person_found=found[0] is not None, context_found=found[1] is not None)
        return WriteResult(errors=missing or [UserError(("input",), "the CTMS refused the activity", result.code)])
    activity_id = result
    crash_point(ctx, "after_source_write")
    try:
        plans = await clinical_plans(ctx, await person_f)
    except SourceError:
        plans = [MirrorPlan(o.name) for o in ctx.orgs]  # matched at delivery instead
    worker, lease = claim(ctx)
    claimed = await ctx.store.complete_intent(
        intent.id, activity_id, kind="clinical", source_id=activity_id, person_id=new.person_id, plans=plans,
        audit=audit_entry(ctx, "createClinicalActivity", activity_id, {"intent": intent.id}), claim=(worker, lease))
    crash_point(ctx, "after_commit")
    activity = ClinicalActivity(activity_id, new.person_id, new.context, day, channel, completed, subject, owner)
    await deliver_inline(ctx, claimed, worker, known=activity)
    crash_point(ctx, "after_delivery")
    return WriteResult(activity=activity)


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
        audit=audit_entry(ctx, "updateClinicalActivity", aid, {"intent": intent.id, "changes": changes.summary()}))
    await deliver_inline(ctx, claimed, worker, known=merged)
    return WriteResult(activity=merged)


async def delete_clinical(ctx: RequestContext, activity_id: str) -> WriteResult:
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
        audit=audit_entry(ctx, "deleteClinicalActivity", aid, {"intent": intent.id}))
    await deliver_inline(ctx, claimed, worker)
    return WriteResult(deleted_id=aid)


async def retry_sync(ctx: RequestContext, activity_id: str) -> WriteResult:
    errors: list[UserError] = []
    for type_name in ("ClinicalActivity", "MedicalActivity"):
        try:
            raw = raw_id(activity_id, type_name)
        except BadInput:
            continue
        if type_name == "ClinicalActivity" and ":" not in raw:
            act = await activities.clinical(ctx, raw)
            if act is None:
                break
            person = await ctx.loaders.person.load(act.person_id)
            worker, lease = claim(ctx)
            claimed = await ctx.store.plan_mirrors("clinical", raw, act.person_id, await clinical_plans(ctx, person),
                                                   claim=(worker, lease))
            await deliver_inline(ctx, claimed, worker, known=act)
            await audit(ctx, "retrySync", raw, "ok", {})
            return WriteResult(activity=act)
        found = await activities.medical(ctx, raw)
        if found is None:
            break
        worker, lease = claim(ctx)
        claimed = await ctx.store.plan_mirrors("medical", found.call_key, found.person_id,
                                               medical_plan(found.person_id), claim=(worker, lease))
        await deliver_inline(ctx, claimed, worker)
        await audit(ctx, "retrySync", found.call_key, "ok", {})
        return WriteResult(activity=found)
    errors.append(UserError(("activityId",), f"no activity {activity_id[:60]!r}", "NOT_FOUND"))
    return WriteResult(errors=errors)


# -- CRM calls ---------------------------------------------------------------------------------------------
