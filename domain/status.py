"""Completed in the CTMS and the call status in the CRM, in both directions."""

from __future__ import annotations

from enum import Enum


class ActivityStatus(Enum):
    PLANNED = "PLANNED"
    COMPLETED = "COMPLETED"


SUBMITTED = "Submitted_vod"
PLANNED = "Planned_vod"
SAVED = "Saved_vod"
_COMPLETED_BY_CRM = {SUBMITTED: True, PLANNED: False, SAVED: False}


def status_from_completed(completed: bool) -> ActivityStatus:
    return ActivityStatus.COMPLETED if completed else ActivityStatus.PLANNED


def status_to_crm(completed: bool) -> str:
    """Completed Yes is `Submitted_vod`; anything else is `Planned_vod`."""
    return SUBMITTED if completed else PLANNED


def completed_from_crm(status: str) -> bool:
    """`Submitted_vod` is Completed Yes; `Planned_vod` and `Saved_vod` are No."""
    try:
        return _COMPLETED_BY_CRM[status]
    except KeyError:
        raise ValueError(f"unknown CRM call status {status!r}") from None
