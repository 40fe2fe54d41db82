"""Looking an activity up by its node id, in the CTMS or in its org."""

from __future__ import annotations

from strawberry.types import Info

from resolvers import activities
from schema.context import rc
from schema.types import Activity, activity_type


async def activity_node(info: Info, type_name: str, raw: str) -> Activity | None:
    found = await activities.find(rc(info), type_name, raw)
    return activity_type(found) if found else None
