"""The root Subscription: live changes to a person's activities, and mirror states for administrators."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from datasources.events import ActivityEvent, Change
from domain.permissions import Permission as P
from resolvers import live
from resolvers.errors import NotFound
from resolvers.ids import raw_id, to_global
from schema.access import requires
from schema.context import rc
from schema.enums import SyncState
from schema.types import Activity, Connection, activity_type

ActivityChange = strawberry.enum(Change, name="ActivityChange",
                                 description="What happened to an activity: created, updated or deleted at its "
                                             "system of record (through the gateway or directly), or one of its "
                                             "mirrors changed state.")


async def _activity(info: Info, event: ActivityEvent) -> Activity | None:
    found = await live.activity_of(rc(info), event)
    return activity_type(found) if found is not None else None


@strawberry.type
class ActivityChangedEvent:
    event: strawberry.Private[ActivityEvent]
    change: ActivityChange
    person_id: strawberry.ID
    activity_id: strawberry.ID

    @strawberry.field(description="The activity as the subscriber would read it now (null once deleted).")
    async def activity(self, info: Info) -> Activity | None:
        return await _activity(info, self.event)


@strawberry.type
class SyncChangedEvent:
    event: strawberry.Private[ActivityEvent]
    activity_id: strawberry.ID
    state: SyncState

    @strawberry.field(description="The org the mirror is in (for a medical activity: the org of its call).")
    def connection(self, info: Info) -> Connection:
        row = rc(info).connection(self.event.connection or "")
        if row is None:
            raise NotFound(f"connection {self.event.connection} is not configured")
        return Connection(row=row)

    @strawberry.field(description="The activity as the subscriber would read it now (null once deleted).")
    async def activity(self, info: Info) -> Activity | None:
        return await _activity(info, self.event)


async def _activity_events(info: Info, pid: str) -> AsyncGenerator[ActivityChangedEvent, None]:
    person = strawberry.ID(to_global("Person", pid))
    async for ctx, event in live.activity_events(rc(info), pid):
        info.context["ctx"] = ctx  # this event's fields are read with a context of its own
        yield ActivityChangedEvent(event=event, change=event.change, person_id=person,
                                   activity_id=strawberry.ID(live.activity_global_id(event)))


async def _sync_events(info: Info, name: str | None) -> AsyncGenerator[SyncChangedEvent, None]:
    async for ctx, event in live.sync_events(rc(info), name):
        info.context["ctx"] = ctx
        yield SyncChangedEvent(event=event, state=event.state or SyncState.PENDING,
                               activity_id=strawberry.ID(live.activity_global_id(event)))


@strawberry.type
class Subscription:
    # Each resolver checks its arguments before it returns the stream: a bad one is an `error` message at once.
    @strawberry.subscription(description="Changes to the activities of one person: created, updated, deleted, and "
                                         "every change of a mirror's state. Over WebSocket (graphql-transport-ws).")
    async def activity_changed(self, info: Info, person_id: strawberry.ID
                               ) -> AsyncGenerator[ActivityChangedEvent, None]:
        return _activity_events(info, raw_id(person_id, "Person", "personId"))

    @strawberry.subscription(description="Every new state of a mirror, in one connection or all (admin).",
                             extensions=requires(P.CONNECTION_ADMIN))
    async def sync_changed(self, info: Info, connection_id: strawberry.ID | None = None
                           ) -> AsyncGenerator[SyncChangedEvent, None]:
        name = raw_id(connection_id, "Connection", "connectionId") if connection_id is not None else None
        return _sync_events(info, name)
