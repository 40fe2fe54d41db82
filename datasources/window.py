"""One timeline page as each source is asked for it, and the query conditions that select it in either backend."""

from __future__ import annotations

from dataclasses import dataclass

from datasources.query import And, Cmp, Cond, Or
from domain.timeline import Position, Resume, TimelineFilter, resume_after


@dataclass(frozen=True)
class Window:
    """One page request of a timeline: the filter, where to resume, and how many items to return."""

    filter: TimelineFilter
    after: Position | None
    first: int


def date_range(date_field: str, f: TimelineFilter) -> list[Cond]:
    """The filter's from/to bounds on a date field (both inclusive)."""
    conds: list[Cond] = []
    if f.date_from is not None:
        conds.append(Cmp(date_field, ">=", f.date_from))
    if f.date_to is not None:
        conds.append(Cmp(date_field, "<=", f.date_to))
    return conds


def resume_condition(date_field: str, id_field: str, after: Position | None, label: str) -> Cond | None:
    """Where a source ordered by (date desc, id desc) continues after a merged position; None: from the start."""
    how, record_id = resume_after(after, label)
    if how is Resume.ALL or after is None:
        return None
    if how is Resume.BEFORE_DATE:
        return Cmp(date_field, "<", after.date)
    if how is Resume.THROUGH_DATE:
        return Cmp(date_field, "<=", after.date)
    same_day = And([Cmp(date_field, "=", after.date), Cmp(id_field, "<", record_id)])
    return Or([Cmp(date_field, "<", after.date), same_day])
