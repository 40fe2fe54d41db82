"""Live updates: the events a subscriber may receive, each with a fresh request context of its own user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from datasources.events import ActivityEvent, Change, EventsLost
from domain import ClinicalActivity, MedicalActivity
from domain.permissions import Permission
from resolvers import activities
from resolvers.access import allowed
from resolvers.context import RequestContext, build_context
from resolvers.errors import EventsMissed
from resolvers.ids import to_global

LiveEvent = tuple[RequestContext, ActivityEvent]


def activity_type_name(event: ActivityEvent) -> str:
    return "ClinicalActivity" if event.kind == "clinical" else "MedicalActivity"


def activity_global_id(event: ActivityEvent) -> str:
    return to_global(activity_type_name(event), event.source_id)


async def activity_events(ctx: RequestContext, person_id: str) -> AsyncIterator[LiveEvent]:
    """Every change to an activity of one CTMS person that this user may see."""
    async for live in _visible(ctx, lambda e: e.person_id == person_id):
        yield live


async def sync_events(ctx: RequestContext, connection: str | None) -> AsyncIterator[LiveEvent]:
    """Every new mirror state (of one connection, or all) that this user may see."""
    async for live in _visible(ctx, lambda e: e.change is Change.SYNC_CHANGED
                               and (connection is None or e.connection == connection)):
        yield live


async def _visible(ctx: RequestContext, wanted: Callable[[ActivityEvent], bool]) -> AsyncIterator[LiveEvent]:
    """The events `wanted` picks, without those about medical activities for a user who may not see them (as
    queries: they do not exist for that user); each comes with a fresh context (the user's permissions, new loaders:
    nothing is read from a cache of an earlier event)."""
    medical = allowed(ctx, Permission.MEDICAL_ACTIVITY_VIEW)
    async with ctx.services.store.events.listen() as listener:
        try:
            async for event in listener:
                if not wanted(event) or (event.kind == "medical" and not medical):
                    continue
                yield await build_context(ctx.services, ctx.actor), event
        except EventsLost:
            raise EventsMissed("This subscription fell behind and missed changes: read the data again and "
                               "subscribe again") from None


async def activity_of(ctx: RequestContext, event: ActivityEvent) -> ClinicalActivity | MedicalActivity | None:
    """The activity as this user reads it now; None once it is deleted."""
    if event.change is Change.DELETED:
        return None
    return await activities.find(ctx, activity_type_name(event), event.source_id)
