"""Reading ahead in the query: the timeline arguments selected under a person, to start its loads early."""

from __future__ import annotations

from datetime import date
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

import domain as d
from domain.timeline import TimelineFilter
from resolvers import timeline as timeline_resolver
from schema.context import rc

MAX_PREFETCH = 3


def _fields(selections: list[Any], name: str) -> list[SelectedField]:
    found: list[SelectedField] = []
    for s in selections:
        if isinstance(s, SelectedField) and s.name == name:
            found.append(s)
        elif isinstance(s, FragmentSpread | InlineFragment):
            found.extend(_fields(s.selections, name))
    return found


def _filter(raw: Any) -> TimelineFilter:
    if raw is None:
        return TimelineFilter()
    if not isinstance(raw, dict):
        raise ValueError("filter")

    def many(key: str, kind: type) -> frozenset | None:
        values = raw.get(key)
        return None if values is None else frozenset(kind(v) for v in values)

    return TimelineFilter(
        date_from=date.fromisoformat(raw["from"]) if raw.get("from") else None,
        date_to=date.fromisoformat(raw["to"]) if raw.get("to") else None,
        channels=many("channels", d.Channel), statuses=many("statuses", d.ActivityStatus),
        kinds=many("kinds", d.ActivityKind))


def prefetch_timelines(info: Info, person_id: str) -> None:
    """Start the loads of every `timeline` selected under this person field (at most a few)."""
    for parent in info.selected_fields:
        for field in _fields(parent.selections, "timeline")[:MAX_PREFETCH]:
            args = field.arguments or {}
            try:
                first = args.get("first", 20)
                first = int(first) if first is not None else None
                timeline_resolver.prefetch(rc(info), person_id, first, args.get("after"), _filter(args.get("filter")))
            except (ValueError, TypeError, KeyError):
                continue  # the resolver reports bad arguments itself
