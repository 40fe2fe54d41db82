"""The timeline's order: newest first, then a stable key; and where each source resumes after a position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum

from domain.channels import Channel
from domain.models import ActivityKind
from domain.status import ActivityStatus

FIRST_DEFAULT = 20
FIRST_MAX = 100


@dataclass(frozen=True)
class TimelineFilter:
    date_from: date | None = None
    date_to: date | None = None
    channels: frozenset[Channel] | None = None
    statuses: frozenset[ActivityStatus] | None = None
    kinds: frozenset[ActivityKind] | None = None

    def wants(self, kind: ActivityKind) -> bool:
        return self.kinds is None or kind in self.kinds

    def completed_values(self) -> list[bool] | None:
        """The completion flags the filter keeps, or None for both."""
        if self.statuses is None or len(self.statuses) == 2:
            return None
        return [s is ActivityStatus.COMPLETED for s in self.statuses]


@dataclass(frozen=True)
class Position:
    """The last item handed out: its date and its stable key (`"<source>:<record id>"`)."""

    date: date
    key: str


class Resume(Enum):
    ALL = "all"  # the source has no item at or before this position yet
    BEFORE_DATE = "before_date"  # items dated strictly before the position
    THROUGH_DATE = "through_date"  # items dated at or before the position
    AFTER_ID = "after_id"  # before the date, or on it with a smaller record id


def item_key(source: str, record_id: str) -> str:
    return f"{source}:{record_id}"


def order_key(day: date, key: str) -> tuple[date, str]:
    """Sort descending by this: newest first, ties broken by key, so every page boundary is exact."""
    return (day, key)


def resume_after(position: Position | None, source: str) -> tuple[Resume, str | None]:
    """How a source's own query (ordered by date desc, id desc) continues after a merged position.

    Within one date, a source's keys all share its prefix, so they sort entirely before or after another
    source's keys: the source resumes at the date itself, before it, or after its own record id.
    """
    if position is None:
        return Resume.ALL, None
    prefix = f"{source}:"
    if position.key.startswith(prefix):
        return Resume.AFTER_ID, position.key[len(prefix):]
    # Keys greater than the position's come first in descending order: they were already handed out.
    return (Resume.BEFORE_DATE, None) if prefix > position.key else (Resume.THROUGH_DATE, None)
