"""Reading ahead in the query: a person's timelines and accounts selected under it, to start their loads early."""

from __future__ import annotations

from datetime import date
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info
from strawberry.types.nodes import convert_arguments

import domain as d
from domain.timeline import TimelineFilter
from resolvers import timeline as timeline_resolver
from resolvers.planning import prefetch_matching
from schema.context import rc

MAX_PREFETCH = 3


def _fields(raw: GraphQLResolveInfo, selection_set: SelectionSetNode | None, name: str) -> list[FieldNode]:
    """The fields called `name` directly under a selection set, through fragments (read from the query's syntax
    tree: converting the whole selection, as `info.selected_fields` does, costs more than the rest of the field)."""
    found: list[FieldNode] = []
    for s in selection_set.selections if selection_set is not None else ():
        if isinstance(s, FieldNode):
            if s.name.value == name:
                found.append(s)
        elif isinstance(s, InlineFragmentNode):
            found.extend(_fields(raw, s.selection_set, name))
        elif isinstance(s, FragmentSpreadNode) and s.name.value in raw.fragments:
            found.extend(_fields(raw, raw.fragments[s.name.value].selection_set, name))
    return found


def selects(info: Info, *path: str) -> bool:
    """Whether the field being resolved selects `path` (field names, one per level, through fragments)."""
    raw = info._raw_info
    level = [n.selection_set for n in raw.field_nodes]
    for name in path:
        level = [f.selection_set for sel in level for f in _fields(raw, sel, name)]
    return bool(level)


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


def prefetch_person(info: Info, person_id: str) -> None:
    """Start the loads of every `timeline` selected under this person field (at most a few), and of its account
    matches when `accounts` is selected: with the person's identifier values known (resolvers/identifiers.py)
    they go out with the person's own query."""
    raw = info._raw_info
    if any(_fields(raw, parent.selection_set, "accounts") for parent in raw.field_nodes):
        prefetch_matching(rc(info), person_id)
    for parent in raw.field_nodes:
        for field in _fields(raw, parent.selection_set, "timeline")[:MAX_PREFETCH]:
            args = convert_arguments(raw, field.arguments)
            try:
                first = args.get("first", 20)
                first = int(first) if first is not None else None
                timeline_resolver.prefetch(rc(info), person_id, first, args.get("after"), _filter(args.get("filter")))
            except (ValueError, TypeError, KeyError):
                continue  # the resolver reports bad arguments itself
