"""Write intents: recorded before the system-of-record write, replayed by idempotency key, audited; and what a
write returns."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass, field

from datasources.store.models import OWNER_KEY_CHARS, AuditEntry, Intent
from domain import ClinicalActivity, IntentStatus, MedicalActivity, UserError, ValidationFailed
from resolvers.context import RequestContext

REPLAY_WAIT_S = 10.0


@dataclass
class WriteResult:
    """What a write mutation returns: what it wrote (an activity, a deleted id, a call id), or its user errors."""

    activity: ClinicalActivity | MedicalActivity | None = None
    deleted_id: str | None = None
    call_id: str | None = None
    errors: list[UserError] = field(default_factory=list)


def _owner_key(ctx: RequestContext) -> str:
    """Idempotency keys are per user: a short digest of the subject keeps the stored key bounded."""
    return hashlib.sha256(ctx.actor.sub.encode()).hexdigest()[:OWNER_KEY_CHARS]


def _hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


async def begin(ctx: RequestContext, operation: str, payload: dict, key: str | None) -> tuple[Intent, str | None]:
    """Record the intent, and the result id when this is a replay of a request that finished.

    A replay waits for the first request while it is in flight; one whose write never happened is retried
    under the same intent (the source write is keyed by it, so racing replays still write once)."""
    digest = _hash({"op": operation, **payload})
    intent = Intent(id=uuid.uuid4().hex, operation=operation, input_hash=digest,
                    idempotency_key=f"{_owner_key(ctx)}:{key}" if key else None, input_json=json.dumps(
                        payload, default=str), actor=ctx.actor.audit_name)
    stored = await ctx.store.begin_intent(intent)
    if stored.id == intent.id:
        return stored, None
    if stored.input_hash != digest:
        raise ValidationFailed([UserError(("input", "idempotencyKey"), "this idempotency key was used with a "
                                          "different input", "IDEMPOTENCY_KEY_REUSED")])
    stored = await _await_replay(ctx, stored)
    if stored.status is IntentStatus.DONE and stored.result_id:
        return stored, stored.result_id
    return await _retry_abandoned(ctx, stored), None


async def _await_replay(ctx: RequestContext, intent: Intent) -> Intent:
    """A replay of a request still in flight waits for the first one to finish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REPLAY_WAIT_S
    current = intent
    while current.status is IntentStatus.PENDING and loop.time() < deadline:
        await asyncio.sleep(0.05)
        current = await ctx.store.intent(intent.id) or current
    return current


async def _retry_abandoned(ctx: RequestContext, intent: Intent) -> Intent:
    """A replay of a request whose write never happened (abandoned by recovery) performs it now.

    The source write is an upsert keyed by the intent id, so two replays racing here still write once."""
    if intent.status is IntentStatus.ABANDONED:
        return await ctx.store.reopen_intent(intent.id) or intent
    return intent


def audit_entry(ctx: RequestContext, operation: str, target: str, detail: dict) -> AuditEntry:
    return AuditEntry(actor=ctx.actor.audit_name, operation=operation, target_id=target, outcome="ok",
                      detail=json.dumps(detail, default=str))


async def audit(ctx: RequestContext, operation: str, target: str | None, outcome: str, detail: dict) -> None:
    await ctx.store.audit(ctx.actor.audit_name, operation, target, outcome, detail)
