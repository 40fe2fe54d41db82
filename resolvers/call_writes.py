"""CRM calls written through: logged or sent to Clinical in their org first, then their Medical Activity in the CTMS."""

from __future__ import annotations

import uuid
from datetime import date

from datasources.errors import SourceError, SourceRejected
from datasources.record_ids import is_record_id
from datasources.store.models import Intent
from domain import Channel, IntentStatus, UserError, ValidationFailed, validate_update
from resolvers import activities
from resolvers.context import RequestContext
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
from resolvers.planning import clinical_plans, medical_plan


async def send_call(ctx: RequestContext, *, connection_id: str, call_id: str) -> WriteResult:
    errors: list[UserError] = []
    name = decode_id(connection_id, "Connection", ["input", "connectionId"], errors)
    org = ctx.org(name) if name else None
    if name and org is None:
        errors.append(UserError(("input", "connectionId"), f"no enabled connection {name}", "NOT_FOUND"))
    if not is_record_id(call_id):  # no such call: it is not even a CRM record id
        errors.append(UserError(("input", "callId"), f"no call {call_id[:40]!r}", "NOT_FOUND"))
    if errors or org is None:
        return WriteResult(errors=errors)
    if not await org.crm.calls([call_id]):
        return WriteResult(errors=[UserError(("input", "callId"), f"no call {call_id} in {org.name}", "NOT_FOUND")])
    key = f"{org.name}:{call_id}"
    intent, _ = await begin(ctx, "sendCallToClinical", {"call": key, "at": uuid.uuid4().hex}, None)
    crash_point(ctx, "after_intent")
    try:
        await org.crm.send_to_clinical(call_id)
    except SourceRejected as exc:
        await ctx.store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
        return WriteResult(errors=[UserError(("input", "callId"), "the CRM refused the change", exc.code or "REFUSED")])
    crash_point(ctx, "after_source_write")
    return await _after_call(ctx, org.name, call_id, intent, "sendCallToClinical")


async def _after_call(ctx: RequestContext, org_name: str, call_id: str, intent: Intent, op: str) -> WriteResult:
    key = f"{org_name}:{call_id}"
    try:
        found = await activities.medical(ctx, key)
    except SourceError:
        found = None
    person_id = found.person_id if found else None
    worker, lease = claim(ctx)
    claimed = await ctx.store.complete_intent(intent.id, key, kind="medical", source_id=key, person_id=person_id,
                                              plans=medical_plan(person_id), claim=(worker, lease),
                                              audit=audit_entry(ctx, op, key, {"intent": intent.id}))
    crash_point(ctx, "after_commit")
    await deliver_inline(ctx, claimed, worker)
    crash_point(ctx, "after_delivery")
    return WriteResult(activity=found, call_id=call_id)


async def log_call(ctx: RequestContext, *, connection_id: str, person_id: str, day: date, channel: Channel,
                   completed: bool, subject: str | None, send_to_clinical: bool,
                   idempotency_key: str | None) -> WriteResult:
    errors: list[UserError] = []
    name = decode_id(connection_id, "Connection", ["input", "connectionId"], errors)
    pid = decode_id(person_id, "Person", ["input", "personId"], errors)
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
                                             f"{org.name}: {plan.error or plan.state.value}", plan.state.value)])
    payload = {"org": org.name, "personId": pid, "date": day, "channel": channel.value, "completed": completed,
               "subject": subject, "send": send_to_clinical}
    try:
        intent, done = await begin(ctx, "logCall", payload, idempotency_key)
    except ValidationFailed as exc:
        return WriteResult(errors=exc.errors)
    if done:
        found = await activities.medical(ctx, done) if send_to_clinical else None
        return WriteResult(activity=found, call_id=done.partition(":")[2])
    crash_point(ctx, "after_intent")
    try:
        call_id = await org.crm.log_call(marker=intent.id, account_id=plan.match_id, day=day, channel=channel,
                                         completed=completed, subject=subject, send_to_clinical=send_to_clinical)
    except SourceRejected as exc:
        await ctx.store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
        return WriteResult(errors=[UserError(("input",), "the CRM refused the call", exc.code or "REFUSED")])
    crash_point(ctx, "after_source_write")
    if not send_to_clinical:
        await ctx.store.complete_intent(intent.id, f"{org.name}:{call_id}")
        await audit(ctx, "logCall", f"{org.name}:{call_id}", "ok", {"intent": intent.id})
        return WriteResult(call_id=call_id)
    return await _after_call(ctx, org.name, call_id, intent, "logCall")
