"""Write-through: the system of record first, behind a recorded intent; mirrors through the outbox."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import uuid
from dataclasses import dataclass, field, replace
from datetime import date

from datasources.errors import RowError, SourceError, SourceRejected
from datasources.query import Cmp, Select
from datasources.store.models import AuditEntry, Intent, Mirror
from datasources.store.repo import CTMS_TARGET, MirrorPlan
from domain import (
    Channel,
    ClinicalActivity,
    ContextKind,
    MedicalActivity,
    UserError,
    ValidationFailed,
    validate_new_activity,
    validate_update,
)
from domain.permissions import Permission
from resolvers import activities, delivery
from resolvers.context import RequestContext
from resolvers.errors import BadInput, Forbidden, Unavailable
from resolvers.ids import raw_id
from resolvers.planning import clinical_plans, medical_plan, prefetch_matching

STEPS = ("after_intent", "after_source_write", "after_commit", "after_delivery")
REPLAY_WAIT_S = 10.0


@dataclass
class WriteResult:
    activity: ClinicalActivity | MedicalActivity | None = None
    deleted_id: str | None = None
    call_id: str | None = None
    errors: list[UserError] = field(default_factory=list)


def crash_point(ctx: RequestContext, step: str) -> None:
    """Test-only: die here, as a power cut would, when the settings name this step."""
    if ctx.services.crash_at == step:
        os.kill(os.getpid(), signal.SIGKILL)


async def _require(ctx: RequestContext, permission: Permission, what: str, operation: str) -> None:
    """Refuse, and keep the refusal in the audit trail, when the acting user lacks the permission."""
    if not ctx.actor.can(permission):
        await _audit(ctx, operation, None, "forbidden", {"missing": permission.value})
        raise Forbidden(f"{what} needs the {permission.value} permission")


def _id(value: str | None, type_name: str, path: list[str], errors: list[UserError]) -> str | None:
    if value is None:
        return None
    try:
        return raw_id(value, type_name)
    except BadInput as exc:
        errors.append(UserError(tuple(path), exc.message.replace("id: ", f"{path[-1]}: ", 1), "INVALID_ID"))
        return None


def _hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


async def _begin(ctx: RequestContext, operation: str, payload: dict, key: str | None) -> tuple[Intent, str | None]:
    """Record the intent, and the result id when this is a replay of a request that finished.

    A replay waits for the first request while it is in flight; one whose write never happened is retried
    under the same intent (the source write is keyed by it, so racing replays still write once)."""
    digest = _hash({"op": operation, **payload})
    intent = Intent(id=uuid.uuid4().hex, operation=operation, input_hash=digest,
                    idempotency_key=f"{ctx.actor.email}:{key}" if key else None, input_json=json.dumps(
                        payload, default=str), actor=ctx.actor.email)
    stored = await ctx.store.begin_intent(intent)
    if stored.id == intent.id:
        return stored, None
    if stored.input_hash != digest:
        raise ValidationFailed([UserError(("input", "idempotencyKey"), "this idempotency key was used with a "
                                          "different input", "IDEMPOTENCY_KEY_REUSED")])
    stored = await _await_replay(ctx, stored)
    if stored.status == "done" and stored.result_id:
        return stored, stored.result_id
    return await _retry_abandoned(ctx, stored), None


async def _await_replay(ctx: RequestContext, intent: Intent) -> Intent:
    """A replay of a request still in flight waits for the first one to finish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REPLAY_WAIT_S
    current = intent
    while current.status == "pending" and loop.time() < deadline:
        await asyncio.sleep(0.05)
        current = await ctx.store.intent(intent.id) or current
    return current


_INLINE: set[asyncio.Future] = set()


async def _retry_abandoned(ctx: RequestContext, intent: Intent) -> Intent:
    """A replay of a request whose write never happened (abandoned by recovery) performs it now.

    The source write is an upsert keyed by the intent id, so two replays racing here still write once."""
    if intent.status == "abandoned":
        return await ctx.store.reopen_intent(intent.id) or intent
    return intent


def _claim(ctx: RequestContext) -> tuple[str, float]:
    """A worker name and lease for mirrors a mutation claims as it plans them, to deliver them inline.

    The lease is short: should this process die right after planning, the worker takes them over soon."""
    return f"inline-{uuid.uuid4().hex[:8]}", max(5.0, 3 * ctx.services.inline_delivery_s)


async def deliver_inline(ctx: RequestContext, rows: list[Mirror], worker: str,
                         known: ClinicalActivity | None = None) -> None:
    """Deliver the mirrors just planned and claimed, within a short deadline; the rest is the worker's.

    `known` is the source record as just written, so delivery need not read it back; the request's loaders
    (person, context, accounts already fetched) are reused."""
    if rows:
        # Past the deadline the delivery goes on in the background: cancelling it would leave its rows leased
        # (LEASE_S) to a worker that no longer exists, so nobody would deliver them until the lease ran out.
        task = asyncio.ensure_future(delivery.deliver_claimed(ctx, rows, worker, {known.id: known} if known else None))
        _INLINE.add(task)
        task.add_done_callback(_INLINE.discard)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=ctx.services.inline_delivery_s)
        except TimeoutError:
            pass
    if ctx.services.wake_worker:
        ctx.services.wake_worker()


def _entry(ctx: RequestContext, operation: str, target: str, detail: dict) -> AuditEntry:
    return AuditEntry(actor=ctx.actor.email, operation=operation, target_id=target, outcome="ok",
                      detail=json.dumps(detail, default=str))


async def _audit(ctx: RequestContext, operation: str, target: str | None, outcome: str, detail: dict) -> None:
    await ctx.store.audit(ctx.actor.email, operation, target, outcome, detail)


# -- clinical activities ---------------------------------------------------------------------------------------
_CONTEXT_TYPES = {ContextKind.STUDY: "Study", ContextKind.STUDY_COUNTRY: "StudyCountry",
                  ContextKind.STUDY_SITE: "StudySite", ContextKind.STUDY_PERSONNEL: "StudyPersonnel"}
_CONTEXT_FIELDS = {ContextKind.STUDY: "studyId", ContextKind.STUDY_COUNTRY: "studyCountryId",
                   ContextKind.STUDY_SITE: "studySiteId", ContextKind.STUDY_PERSONNEL: "studyPersonnelId"}


async def create_clinical(ctx: RequestContext, *, person_id: str, contexts: dict[ContextKind, str | None],
                          day: date, channel: Channel, completed: bool, subject: str | None,
                          idempotency_key: str | None) -> WriteResult:
    await _require(ctx, Permission.CLINICAL_ACTIVITY_CREATE, "creating a clinical activity", "createClinicalActivity")
    errors: list[UserError] = []
    pid = _id(person_id, "Person", ["input", "personId"], errors)
    ctx_ids = {k: _id(v, _CONTEXT_TYPES[k], ["input", "context", _CONTEXT_FIELDS[k]], errors)
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
    # The lookups run while the intent is recorded and the CTMS written: the CTMS refuses unknown references
    # itself, and these tell which input was at fault; the person's accounts are asked for at the same time.
    person_f = ctx.loaders.person.load(new.person_id)
    context_f = _context_loader(ctx, new.context.kind).load(new.context.id)
    prefetch_matching(ctx, new.person_id)
    payload = {"personId": new.person_id, "context": [new.context.kind.name, new.context.id], "date": day,
               "channel": channel.value, "completed": completed, "subject": subject, "actor": ctx.actor.email}
    try:
        intent, done = await _begin(ctx, "createClinicalActivity", payload, idempotency_key)
    except ValidationFailed as exc:
        return WriteResult(errors=exc.errors)
    if done:
        return WriteResult(activity=await _clinical(ctx, done))
    crash_point(ctx, "after_intent")
    cm = ctx.backends.ctms_map
    owner = ctx.actor.owner
    record = cm.clinical_record(person_id=new.person_id, context=new.context, day=day, channel=channel,
                                completed=completed, subject=subject, owner=owner, marker=intent.id)
    try:
        [result] = await ctx.backends.ctms.write("POST", cm.activity, [record], id_param=cm.act_marker)
    except SourceError as exc:
        await _audit(ctx, "createClinicalActivity", None, "unavailable", {"intent": intent.id, "error": str(exc)})
        raise Unavailable(exc.source, exc.reason) from None
    if isinstance(result, RowError):
        await ctx.store.complete_intent(intent.id, None, status="abandoned")
        await _audit(ctx, "createClinicalActivity", None, "refused", {"intent": intent.id, "error": str(result)})
        found = await asyncio.gather(person_f, context_f, return_exceptions=True)
        missing = []
        if found[0] is None:
            missing.append(UserError(("input", "personId"), f"no person {new.person_id} in the CTMS", "NOT_FOUND"))
        if found[1] is None:
            missing.append(UserError(("input", "context", _CONTEXT_FIELDS[new.context.kind]),
                                     f"no {new.context.kind.value} {new.context.id} in the CTMS", "NOT_FOUND"))
        return WriteResult(errors=missing or [UserError(
            ("input",), f"the CTMS refused the activity: {result.message}", result.code)])
    activity_id = result["id"]
    crash_point(ctx, "after_source_write")
    try:
        plans = await clinical_plans(ctx, await person_f)
    except SourceError:
        plans = [MirrorPlan(o.name) for o in ctx.orgs]  # matched at delivery instead
    worker, lease = _claim(ctx)
    claimed = await ctx.store.complete_intent(
        intent.id, activity_id, kind="clinical", source_id=activity_id, person_id=new.person_id, plans=plans,
        audit=_entry(ctx, "createClinicalActivity", activity_id, {"intent": intent.id}), claim=(worker, lease))
    crash_point(ctx, "after_commit")
    activity = ClinicalActivity(activity_id, new.person_id, new.context, day, channel, completed, subject, owner)
    await deliver_inline(ctx, claimed, worker, known=activity)
    crash_point(ctx, "after_delivery")
    return WriteResult(activity=activity)


def _context_loader(ctx: RequestContext, kind: ContextKind):  # noqa: ANN202
    loaders = ctx.loaders
    return {ContextKind.STUDY: loaders.study, ContextKind.STUDY_COUNTRY: loaders.country,
            ContextKind.STUDY_SITE: loaders.site, ContextKind.STUDY_PERSONNEL: loaders.personnel}[kind]


async def _clinical(ctx: RequestContext, activity_id: str) -> ClinicalActivity | None:
    try:
        return await activities.clinical(ctx, activity_id)
    except SourceError as exc:
        raise Unavailable(exc.source, exc.reason) from None


async def update_clinical(ctx: RequestContext, *, activity_id: str, day: date | None, channel: Channel | None,
                          completed: bool | None, subject: str | None, subject_set: bool) -> WriteResult:
    await _require(ctx, Permission.CLINICAL_ACTIVITY_EDIT, "editing a clinical activity", "updateClinicalActivity")
    errors: list[UserError] = []
    aid = _id(activity_id, "ClinicalActivity", ["input", "id"], errors)
    if aid is None:
        return WriteResult(errors=errors)
    current = await _clinical(ctx, aid)
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
    cm = ctx.backends.ctms_map
    changes = cm.clinical_changes(day=day, channel=channel, completed=completed, subject=subject,
                                  subject_set=subject_set)
    intent, _ = await _begin(ctx, "updateClinicalActivity", {"id": aid, **changes, "at": uuid.uuid4().hex}, None)
    if changes:
        try:
            [result] = await ctx.backends.ctms.write("PUT", cm.activity, [{"id": aid, **changes}])
        except SourceError as exc:
            raise Unavailable(exc.source, exc.reason) from None
        if isinstance(result, RowError):
            await ctx.store.complete_intent(intent.id, None, status="abandoned")
            return WriteResult(errors=[UserError(("input",), f"the CTMS refused the change: {result.message}",
                                                 result.code)])
    person = await ctx.loaders.person.load(current.person_id)
    worker, lease = _claim(ctx)
    claimed = await ctx.store.complete_intent(
        intent.id, aid, kind="clinical", source_id=aid, person_id=current.person_id,
        plans=await clinical_plans(ctx, person), claim=(worker, lease),
        audit=_entry(ctx, "updateClinicalActivity", aid, {"intent": intent.id, "changes": changes}))
    await deliver_inline(ctx, claimed, worker, known=merged)
    return WriteResult(activity=merged)


async def delete_clinical(ctx: RequestContext, activity_id: str) -> WriteResult:
    await _require(ctx, Permission.CLINICAL_ACTIVITY_EDIT, "deleting a clinical activity", "deleteClinicalActivity")
    errors: list[UserError] = []
    aid = _id(activity_id, "ClinicalActivity", ["id"], errors)
    if aid is None:
        return WriteResult(errors=errors)
    current = await _clinical(ctx, aid)
    if current is None:
        return WriteResult(errors=[UserError(("id",), f"no clinical activity {aid} in the CTMS", "NOT_FOUND")])
    intent, _ = await _begin(ctx, "deleteClinicalActivity", {"id": aid}, None)
    try:
        [result] = await ctx.backends.ctms.write("DELETE", ctx.backends.ctms_map.activity, [{"id": aid}])
    except SourceError as exc:
        raise Unavailable(exc.source, exc.reason) from None
    if isinstance(result, RowError):
        await ctx.store.complete_intent(intent.id, None, status="abandoned")
        return WriteResult(errors=[UserError(("id",), f"the CTMS refused the deletion: {result.message}",
                                             result.code)])
    worker, lease = _claim(ctx)
    claimed = await ctx.store.complete_intent(
        intent.id, aid, kind="clinical", source_id=aid, person_id=current.person_id,
        plans=[MirrorPlan(o.name) for o in ctx.orgs], deleted=True, claim=(worker, lease),
        audit=_entry(ctx, "deleteClinicalActivity", aid, {"intent": intent.id}))
    await deliver_inline(ctx, claimed, worker)
    return WriteResult(deleted_id=aid)


async def retry_sync(ctx: RequestContext, activity_id: str) -> WriteResult:
    await _require(ctx, Permission.CONNECTION_ADMIN, "retrying a sync", "retrySync")
    errors: list[UserError] = []
    for type_name in ("ClinicalActivity", "MedicalActivity"):
        try:
            raw = raw_id(activity_id, type_name)
        except BadInput:
            continue
        if type_name == "ClinicalActivity" and ":" not in raw:
            act = await _clinical(ctx, raw)
            if act is None:
                break
            person = await ctx.loaders.person.load(act.person_id)
            worker, lease = _claim(ctx)
            claimed = await ctx.store.plan_mirrors("clinical", raw, act.person_id, await clinical_plans(ctx, person),
                                                   claim=(worker, lease))
            await deliver_inline(ctx, claimed, worker, known=act)
            await _audit(ctx, "retrySync", raw, "ok", {})
            return WriteResult(activity=act)
        found = await activities.medical(ctx, raw)
        if found is None:
            break
        worker, lease = _claim(ctx)
        claimed = await ctx.store.plan_mirrors("medical", found.call_key, found.person_id,
                                               medical_plan(found.person_id), claim=(worker, lease))
        await deliver_inline(ctx, claimed, worker)
        await _audit(ctx, "retrySync", found.call_key, "ok", {})
        return WriteResult(activity=found)
    errors.append(UserError(("activityId",), f"no activity {activity_id[:60]!r}", "NOT_FOUND"))
    return WriteResult(errors=errors)


# -- CRM calls ---------------------------------------------------------------------------------------------
async def send_call(ctx: RequestContext, *, connection_id: str, call_id: str) -> WriteResult:
    await _require(ctx, Permission.MEDICAL_ACTIVITY_VIEW, "sending a call to Clinical", "sendCallToClinical")
    errors: list[UserError] = []
    name = _id(connection_id, "Connection", ["input", "connectionId"], errors)
    org = ctx.org(name) if name else None
    if name and org is None:
        errors.append(UserError(("input", "connectionId"), f"no enabled connection {name}", "NOT_FOUND"))
    if not _sf_id(call_id):
        errors.append(UserError(("input", "callId"), f"{call_id[:40]!r} is not a CRM record id", "INVALID_ID"))
    if errors or org is None:
        return WriteResult(errors=errors)
    rm = ctx.backends.crm_map
    try:
        recs = await org.client.query(Select(rm.call, ["Id"]).filter(Cmp("Id", "=", call_id)))
    except SourceError as exc:
        raise Unavailable(exc.source, exc.reason) from None
    if not recs:
        return WriteResult(errors=[UserError(("input", "callId"), f"no call {call_id} in {org.name}", "NOT_FOUND")])
    key = f"{org.name}:{call_id}"
    intent, _ = await _begin(ctx, "sendCallToClinical", {"call": key, "at": uuid.uuid4().hex}, None)
    crash_point(ctx, "after_intent")
    try:
        await org.client.update(rm.call, call_id, {rm.send_to_clinical: True})
    except SourceRejected as exc:
        await ctx.store.complete_intent(intent.id, None, status="abandoned")
        return WriteResult(errors=[UserError(("input", "callId"), f"the CRM refused: {exc.reason}",
                                             exc.code or "REFUSED")])
    except SourceError as exc:
        raise Unavailable(exc.source, exc.reason) from None
    crash_point(ctx, "after_source_write")
    return await _after_call(ctx, org.name, call_id, intent, "sendCallToClinical")


async def _after_call(ctx: RequestContext, org_name: str, call_id: str, intent: Intent, op: str) -> WriteResult:
    key = f"{org_name}:{call_id}"
    try:
        found = await activities.medical(ctx, key)
    except SourceError:
        found = None
    person_id = found.person_id if found else None
    worker, lease = _claim(ctx)
    claimed = await ctx.store.complete_intent(intent.id, key, kind="medical", source_id=key, person_id=person_id,
                                              plans=medical_plan(person_id), claim=(worker, lease),
                                              audit=_entry(ctx, op, key, {"intent": intent.id}))
    crash_point(ctx, "after_commit")
    await deliver_inline(ctx, claimed, worker)
    crash_point(ctx, "after_delivery")
    return WriteResult(activity=found, call_id=call_id)


def _sf_id(value: str) -> bool:
    return isinstance(value, str) and len(value) in (15, 18) and value.isalnum()


async def log_call(ctx: RequestContext, *, connection_id: str, person_id: str, day: date, channel: Channel,
                   completed: bool, subject: str | None, send_to_clinical: bool,
                   idempotency_key: str | None) -> WriteResult:
    await _require(ctx, Permission.MEDICAL_ACTIVITY_VIEW, "logging a call", "logCall")
    errors: list[UserError] = []
    name = _id(connection_id, "Connection", ["input", "connectionId"], errors)
    pid = _id(person_id, "Person", ["input", "personId"], errors)
    org = ctx.org(name) if name else None
    if name and org is None:
        errors.append(UserError(("input", "connectionId"), f"no enabled connection {name}", "NOT_FOUND"))
    try:
        validate_update(day=day, completed=completed, subject=subject, today=ctx.services.today())
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors or org is None or pid is None:
        return WriteResult(errors=errors)
    person = await ctx.loaders.person.load(pid)
    if person is None:
        return WriteResult(errors=[UserError(("input", "personId"), f"no person {pid} in the CTMS", "NOT_FOUND")])
    plan = next(p for p in await clinical_plans(ctx, person) if p.target == org.name)
    if plan.match_id is None:
        return WriteResult(errors=[UserError(("input", "personId"), f"the person has no single account in "
                                             f"{org.name}: {plan.error or plan.state}", plan.state)])
    payload = {"org": org.name, "personId": pid, "date": day, "channel": channel.value, "completed": completed,
               "subject": subject, "send": send_to_clinical}
    try:
        intent, done = await _begin(ctx, "logCall", payload, idempotency_key)
    except ValidationFailed as exc:
        return WriteResult(errors=exc.errors)
    if done:
        found = await activities.medical(ctx, done) if send_to_clinical else None
        return WriteResult(activity=found, call_id=done.partition(":")[2])
    crash_point(ctx, "after_intent")
    rm = ctx.backends.crm_map
    fields = rm.call_record(account_id=plan.match_id, day=day, channel=channel, completed=completed,
                            subject=subject, send_to_clinical=send_to_clinical)
    try:
        call_id = await org.client.upsert(rm.call, rm.call_marker, intent.id, fields)
    except SourceRejected as exc:
        await ctx.store.complete_intent(intent.id, None, status="abandoned")
        return WriteResult(errors=[UserError(("input",), f"the CRM refused the call: {exc.reason}",
                                             exc.code or "REFUSED")])
    except SourceError as exc:
        raise Unavailable(exc.source, exc.reason) from None
    crash_point(ctx, "after_source_write")
    if not send_to_clinical:
        await ctx.store.complete_intent(intent.id, f"{org.name}:{call_id}")
        await _audit(ctx, "logCall", f"{org.name}:{call_id}", "ok", {"intent": intent.id})
        return WriteResult(call_id=call_id)
    return await _after_call(ctx, org.name, call_id, intent, "logCall")


__all__ = ["STEPS", "WriteResult", "create_clinical", "update_clinical", "delete_clinical", "send_call", "log_call",
           "retry_sync", "CTMS_TARGET", "MedicalActivity"]
