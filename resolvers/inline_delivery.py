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
