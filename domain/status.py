"""Planned or completed: the unified status of an activity."""

from __future__ import annotations

from enum import Enum


class ActivityStatus(Enum):
    PLANNED = "PLANNED"
    COMPLETED = "COMPLETED"


def status_from_completed(completed: bool) -> ActivityStatus:
    return ActivityStatus.COMPLETED if completed else ActivityStatus.PLANNED
