"""Inline delivery: the mirrors a mutation has just planned, claimed and delivered within its short deadline."""

from __future__ import annotations

import asyncio
import uuid

from datasources.store.models import Mirror
from domain import ClinicalActivity
from resolvers import delivery
from resolvers.context import RequestContext


def claim(ctx: RequestContext) -> tuple[str, float]:
    """A worker name and lease for mirrors a mutation claims as it plans them, to deliver them inline.

    The lease is short: should this process die right after planning, the worker takes them over soon."""
    return f"inline-{uuid.uuid4().hex[:8]}", max(5.0, 3 * ctx.services.inline_delivery_s)


# Loop iterations a task started now needs to reach its socket write: a loader's dispatch waits three of them, and an
# org's query batch (datasources/crm/query_batch.py) three more. On a SQLite file the store writes that follow never
# yield to the loop (datasources/store/direct_writes.py): a request not out by then waits for them.
REQUESTS_OUT_TICKS = 9


async def requests_out() -> None:
    """Let the backend requests just started go out before this task runs a store transaction (whose CPU would
    otherwise come first): they then wait on the wire meanwhile."""
    for _ in range(REQUESTS_OUT_TICKS):
        await asyncio.sleep(0)


def start_delivery(ctx: RequestContext, rows: list[Mirror], worker: str, known: ClinicalActivity | None = None,
                   committing: asyncio.Future[list[Mirror]] | None = None) -> asyncio.Task[None] | None:
    """Start delivering the mirrors just planned and claimed (or, with `committing`, being committed: see
    delivery.deliver_claimed); shutdown waits for it (Services.drain_inline).

    `known` is the source record as just written, so delivery need not read it back; the request's loaders
    (person, context, accounts already fetched) are reused."""
    if not rows:
        return None
    task = asyncio.create_task(delivery.deliver_claimed(ctx, rows, worker, {known.id: known} if known else None,
                                                        committing))
    ctx.services.track_inline(task)
    return task


async def await_delivery(ctx: RequestContext, task: asyncio.Task[None] | None) -> None:
    """Wait for an inline delivery within the short deadline; the rest is the worker's."""
    if task is not None:
        # Past the deadline the delivery goes on in the background: cancelling it would leave its rows leased
        # (LEASE_S) to a worker that no longer exists, so nobody would deliver them until the lease ran out.
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=ctx.services.inline_delivery_s)
        except TimeoutError:
            pass
    if ctx.services.wake_worker:
        ctx.services.wake_worker()


async def deliver_inline(ctx: RequestContext, rows: list[Mirror], worker: str,
                         known: ClinicalActivity | None = None) -> None:
    """Deliver the mirrors just planned and claimed, within a short deadline; the rest is the worker's."""
    await await_delivery(ctx, start_delivery(ctx, rows, worker, known))
