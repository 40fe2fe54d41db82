"""The CRM's channel and status picklist values, one to one with the unified model (moved from tests/domain)."""

import pytest

from datasources.crm.picklists import channel_from_crm, channel_to_crm, completed_from_crm, status_to_crm
from domain.channels import Channel

TABLE = [
    (Channel.IN_PERSON, "Face_to_face_vod"),
    (Channel.VIDEO, "Video_vod"),
    (Channel.PHONE, "Phone_vod"),
    (Channel.CHAT_TEXT, "Message_vod"),
    (Channel.EMAIL, "Email_vod"),
    (Channel.OTHER, "Other_vod"),
]


def test_table_covers_every_channel_once():
    assert {row[0] for row in TABLE} == set(Channel)
    assert len({row[1] for row in TABLE}) == len(Channel) == 6


@pytest.mark.parametrize(("channel", "crm"), TABLE)
def test_channel_to_and_from_crm(channel, crm):
    assert channel_to_crm(channel) == crm
    assert channel_from_crm(crm) is channel


@pytest.mark.parametrize("value", ["Fax_vod", "", "In Person", "face_to_face_vod", "PHONE"])
def test_unknown_crm_channel_is_refused(value):
    with pytest.raises(ValueError, match=r"unknown CRM call channel"):
        channel_from_crm(value)


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
