"""A person's timeline: clinical and medical activities from every source, merged newest first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from datasources.errors import SourceError
from datasources.loaders import Item
from datasources.window import Window
from domain import ActivityKind, Person
from domain.permissions import Permission
from domain.timeline import Position, TimelineFilter, order_key
from resolvers.context import RequestContext
from resolvers.cursors import timeline_cursor, timeline_position
from resolvers.errors import BadInput
from resolvers.paging import check_first


@dataclass(frozen=True)
class TimelinePage:
    items: list[tuple[str, Item]]  # (cursor, item)
    has_next: bool
    has_previous: bool
    failures: list[SourceError]


def visible_filter(ctx: RequestContext, f: TimelineFilter) -> TimelineFilter:
    """Without "view Medical Activity" a user never sees a medical activity."""
    if ctx.actor.can(Permission.MEDICAL_ACTIVITY_VIEW):
        return f
    kinds = frozenset({ActivityKind.CLINICAL}) & (f.kinds if f.kinds is not None else frozenset(ActivityKind))
    return TimelineFilter(f.date_from, f.date_to, f.channels, f.statuses, kinds)


def _window(ctx: RequestContext, first: int | None, after: str | None, f: TimelineFilter) -> Window:
    n = check_first(first)
    position = timeline_position(after)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise BadInput("filter: from is after to", field="filter")
    return Window(visible_filter(ctx, f), position, n)


def _nothing_accepted(f: TimelineFilter) -> bool:
    return any(values is not None and not values for values in (f.channels, f.statuses, f.kinds))


def prefetch(ctx: RequestContext, person_id: str, first: int | None, after: str | None, f: TimelineFilter) -> None:
    """Start a timeline's source queries before its person record arrives (identifier values as last seen).

    The timeline resolver asks for the same keys later and joins these loads; were an identifier to have
    changed meanwhile, it asks for the new value instead. Bad arguments are left for the resolver to report.
    """
    try:
        window = _window(ctx, first, after, f)
    except BadInput:
        return
    if _nothing_accepted(f):
        return
    ctx.loaders.ctms_timeline.load((person_id, window))
    known = ctx.loaders.known_identifiers.get(person_id) or {}
    for org in ctx.orgs:
        value = known.get(org.ctms_field)
        if value:
            ctx.loaders.org_timeline[org.name].load((value, window))


async def timeline(ctx: RequestContext, person: Person, first: int | None, after: str | None,
                   f: TimelineFilter) -> TimelinePage:
    window = _window(ctx, first, after, f)
    position, n = window.after, window.first
    if _nothing_accepted(f):
        return TimelinePage([], False, position is not None, [])  # an empty list of accepted values: nothing
    jobs = [ctx.loaders.ctms_timeline.load((person.id, window))]
    sources = ["ctms"]
    for org in ctx.orgs:
        value = person.identifiers.get(org.ctms_field)
        if value:
            jobs.append(ctx.loaders.org_timeline[org.name].load((value, window)))
            sources.append(org.source)
    results = await asyncio.gather(*jobs, return_exceptions=True)
    items: list[Item] = []
    failures: list[SourceError] = []
    for source, res in zip(sources, results, strict=True):
        if isinstance(res, SourceError):
            failures.append(res)
        elif isinstance(res, BaseException):
            failures.append(SourceError.unexpected(source, res))
        else:
            items.extend(res)
    items.sort(key=lambda i: order_key(i.day, i.key), reverse=True)
    page = items[:n]
    return TimelinePage([(timeline_cursor(Position(i.day, i.key)), i) for i in page], len(items) > n,
                        position is not None, failures)
