"""Completed Yes <-> Submitted_vod; Planned_vod and Saved_vod are not completed."""

import pytest

from domain.status import ActivityStatus, completed_from_crm, status_from_completed, status_to_crm


def test_completed_yes_is_submitted():
    assert status_to_crm(True) == "Submitted_vod"


def test_completed_no_is_planned():
    assert status_to_crm(False) == "Planned_vod"


def test_submitted_is_completed():
    assert completed_from_crm("Submitted_vod") is True


@pytest.mark.parametrize("status", ["Planned_vod", "Saved_vod"])
def test_planned_and_saved_are_not_completed(status):
    assert completed_from_crm(status) is False


@pytest.mark.parametrize("completed", [True, False])
def test_round_trip(completed):
    assert completed_from_crm(status_to_crm(completed)) is completed


@pytest.mark.parametrize("status", ["Submitted", "Planned", "", "submitted_vod", "Cancelled_vod"])
def test_unknown_crm_status_is_refused(status):
    with pytest.raises(ValueError, match=r"unknown CRM call status"):
        completed_from_crm(status)


def test_status_from_completed():
    assert status_from_completed(True) is ActivityStatus.COMPLETED
    assert status_from_completed(False) is ActivityStatus.PLANNED
