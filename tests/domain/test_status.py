"""Completed Yes is COMPLETED, otherwise PLANNED (the CRM picklist values: tests/datasources)."""

from domain.status import ActivityStatus, status_from_completed


def test_status_from_completed():
    assert status_from_completed(True) is ActivityStatus.COMPLETED
    assert status_from_completed(False) is ActivityStatus.PLANNED
