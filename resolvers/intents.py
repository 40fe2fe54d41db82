"""Write intents: recorded before the system-of-record write, replayed by idempotency key, audited; and the
inline delivery of the mirrors a write planned."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import uuid
from dataclasses import dataclass, field

from datasources.store.models import OWNER_KEY_CHARS, AuditEntry, Intent, Mirror
from domain import ClinicalActivity, IntentStatus, MedicalActivity, UserError, ValidationFailed
from resolvers import delivery
from resolvers.context import RequestContext
from resolvers.errors import BadInput
from resolvers.ids import raw_id

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


def decode_id(value: str | None, type_name: str, path: list[str], errors: list[UserError]) -> str | None:
    if value is None:
        return None
    try:
        return raw_id(value, type_name)
    except BadInput as exc:
        errors.append(UserError(tuple(path), exc.message.replace("id: ", f"{path[-1]}: ", 1), "INVALID_ID"))
        return None


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


def claim(ctx: RequestContext) -> tuple[str, float]:
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
        # Shutdown waits for it (Services.drain_inline).
        task = asyncio.create_task(delivery.deliver_claimed(ctx, rows, worker, {known.id: known} if known else None))
        ctx.services.track_inline(task)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=ctx.services.inline_delivery_s)
        except TimeoutError:
            pass
    if ctx.services.wake_worker:
        ctx.services.wake_worker()


def audit_entry(ctx: RequestContext, operation: str, target: str, detail: dict) -> AuditEntry:
    return AuditEntry(actor=ctx.actor.audit_name, operation=operation, target_id=target, outcome="ok",
                      detail=json.dumps(detail, default=str))


async def audit(ctx: RequestContext, operation: str, target: str | None, outcome: str, detail: dict) -> None:
    await ctx.store.audit(ctx.actor.audit_name, operation, target, outcome, detail)


# -- clinical activities ---------------------------------------------------------------------------------------
