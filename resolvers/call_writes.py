"""CRM calls written through: logged or sent to Clinical in their org first, then their Medical Activity in the CTMS."""

from __future__ import annotations

import uuid
from datetime import date

from datasources.errors import SourceError, SourceRejected, SourceUnavailable
from datasources.events import Change
from datasources.record_ids import is_record_id
from datasources.sources import Org
from datasources.store.models import Intent
from domain import Channel, IntentStatus, SyncState, UserError, ValidationFailed, validate_update
from resolvers import activities
from resolvers.context import RequestContext
from resolvers.crash import crash_point
from resolvers.ids import decode_id
from resolvers.inline_delivery import claim, deliver_inline
from resolvers.intents import WriteResult, audit, audit_entry, begin
from resolvers.planning import clinical_plans, medical_plan


async def send_call(ctx: RequestContext, *, connection_id: str, call_id: str) -> WriteResult:
    """Mark a call in its org "sent to Clinical", then plan its Medical Activity in the CTMS and deliver it."""
    errors: list[UserError] = []
    org = _enabled_org(ctx, decode_id(connection_id, "Connection", ["input", "connectionId"], errors), errors)
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
        return await _refused(ctx, intent, ("input", "callId"), "the CRM refused the change", exc)
    crash_point(ctx, "after_source_write")
    return await _after_call(ctx, org.name, call_id, intent, "sendCallToClinical")


async def log_call(ctx: RequestContext, *, connection_id: str, person_id: str, day: date, channel: Channel,
                   completed: bool, subject: str | None, send_to_clinical: bool,
                   idempotency_key: str | None) -> WriteResult:
    """Log a call in one org on the person's matched account behind a recorded intent; sent to Clinical, its
    Medical Activity in the CTMS is planned and delivered too."""
    checked = _checked_call(ctx, connection_id=connection_id, person_id=person_id, day=day, completed=completed,
                            subject=subject)
    if isinstance(checked, list):
        return WriteResult(errors=checked)
    org, pid = checked
    account_id = await _matched_account(ctx, org, pid)
    if isinstance(account_id, list):
        return WriteResult(errors=account_id)
    payload = {"org": org.name, "personId": pid, "date": day, "channel": channel.value, "completed": completed,
               "subject": subject, "send": send_to_clinical}
    try:
        intent, done = await begin(ctx, "logCall", payload, idempotency_key)
    except ValidationFailed as exc:
        return WriteResult(errors=exc.errors)
    if done:
        return await _replayed_call(ctx, done, send_to_clinical)
    crash_point(ctx, "after_intent")
    try:
        call_id = await org.crm.log_call(marker=intent.id, account_id=account_id, day=day, channel=channel,
                                         completed=completed, subject=subject, send_to_clinical=send_to_clinical)
    except SourceRejected as exc:
        return await _refused(ctx, intent, ("input",), "the CRM refused the call", exc)
    crash_point(ctx, "after_source_write")
    if not send_to_clinical:
        return await _logged_only(ctx, org.name, call_id, intent)
    return await _after_call(ctx, org.name, call_id, intent, "logCall")


def _enabled_org(ctx: RequestContext, name: str | None, errors: list[UserError]) -> Org | None:
    """The org of the connection an input names; None (an error added to `errors`) when it is not enabled."""
    org = ctx.org(name) if name else None
    if name and org is None:
        errors.append(UserError(("input", "connectionId"), f"no enabled connection {name}", "NOT_FOUND"))
    return org


def _checked_call(ctx: RequestContext, *, connection_id: str, person_id: str, day: date, completed: bool,
                  subject: str | None) -> tuple[Org, str] | list[UserError]:
    """The org and the CTMS person id of a call to log, or every problem with the input."""
    errors: list[UserError] = []
    name = decode_id(connection_id, "Connection", ["input", "connectionId"], errors)
    pid = decode_id(person_id, "Person", ["input", "personId"], errors)
    org = _enabled_org(ctx, name, errors)
    try:
        validate_update(day=day, completed=completed, subject=subject, today=ctx.services.today())
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors or org is None or pid is None:
        return errors
    return org, pid


async def _matched_account(ctx: RequestContext, org: Org, person_id: str) -> str | list[UserError]:
    """The one account of a CTMS person in the org, or why there is none."""
    person = await ctx.loaders.person.load(person_id)
    if person is None:
        return [UserError(("input", "personId"), f"no person {person_id} in the CTMS", "NOT_FOUND")]
    plan = next(p for p in await clinical_plans(ctx, person) if p.target == org.name)
    if plan.match_id is None and plan.state is SyncState.PENDING:
        # Matching was postponed because the org did not answer: an outage to retry, not the caller's mistake.
        raise SourceUnavailable(org.source, "matching postponed")
    if plan.match_id is None:
        # Not the matching's own words: they name the org's identifier field and its accounts, connection details
        # that need CONNECTION_ADMIN.
        found = "no account" if plan.state is SyncState.NO_MATCH else "more than one account"
        return [UserError(("input", "personId"), f"the person has {found} in {org.name}", plan.state.value)]
    return plan.match_id


async def _replayed_call(ctx: RequestContext, call_key: str, sent: bool) -> WriteResult:
    """The answer to a replay of a logCall that finished: the call, and its activity when it was sent."""
    found = await activities.medical(ctx, call_key) if sent else None
    return WriteResult(activity=found, call_id=call_key.partition(":")[2])


async def _refused(ctx: RequestContext, intent: Intent, field: tuple[str, ...], message: str,
                   exc: SourceRejected) -> WriteResult:
    """A CRM write's refusal abandons the intent and becomes a user error."""
    await ctx.store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
    return WriteResult(errors=[UserError(field, message, exc.code or "REFUSED")])


async def _logged_only(ctx: RequestContext, org_name: str, call_id: str, intent: Intent) -> WriteResult:
    """A call not sent to Clinical has no mirror: the intent is done and audited."""
    key = f"{org_name}:{call_id}"
    await ctx.store.complete_intent(intent.id, key)
    await audit(ctx, "logCall", key, "ok", {"intent": intent.id})
    return WriteResult(call_id=call_id)


async def _after_call(ctx: RequestContext, org_name: str, call_id: str, intent: Intent, op: str) -> WriteResult:
    """A call sent to Clinical: the intent done with its Medical Activity planned and audited, then delivered."""
    key = f"{org_name}:{call_id}"
    try:
        found = await activities.medical(ctx, key)
    except SourceError:
        found = None
    person_id = found.person_id if found else None
    worker, lease = claim(ctx)
    claimed = await ctx.store.complete_intent(intent.id, key, kind="medical", source_id=key, person_id=person_id,
                                              plans=medical_plan(person_id), claim=(worker, lease),
                                              audit=audit_entry(ctx, op, key, {"intent": intent.id}),
                                              change=Change.CREATED)
    crash_point(ctx, "after_commit")
    await deliver_inline(ctx, claimed, worker)
    crash_point(ctx, "after_delivery")
    return WriteResult(activity=found, call_id=call_id)
