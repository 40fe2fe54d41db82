"""The channel picklist maps one to one between the unified model, the CTMS and the CRM."""

import pytest

from domain.channels import Channel, channel_from_crm, channel_from_ctms, channel_to_crm, channel_to_ctms

TABLE = [
    (Channel.IN_PERSON, "In Person", "Face_to_face_vod"),
    (Channel.VIDEO, "Video", "Video_vod"),
    (Channel.PHONE, "Phone", "Phone_vod"),
    (Channel.CHAT_TEXT, "Chat/Text", "Message_vod"),
    (Channel.EMAIL, "Email", "Email_vod"),
    (Channel.OTHER, "Other", "Other_vod"),
]


def test_table_covers_every_channel_once():
    assert {row[0] for row in TABLE} == set(Channel)
    assert len({row[1] for row in TABLE}) == len({row[2] for row in TABLE}) == len(Channel) == 6


@pytest.mark.parametrize(("channel", "ctms", "crm"), TABLE)
def test_channel_to_ctms_and_crm(channel, ctms, crm):
    assert channel_to_ctms(channel) == ctms
    assert channel_to_crm(channel) == crm


@pytest.mark.parametrize(("channel", "ctms", "crm"), TABLE)
def test_channel_from_ctms_and_crm(channel, ctms, crm):
    assert channel_from_ctms(ctms) is channel
    assert channel_from_crm(crm) is channel


@pytest.mark.parametrize("channel", list(Channel))
def test_round_trip_through_both_systems(channel):
    assert channel_from_ctms(channel_to_ctms(channel)) is channel
    assert channel_from_crm(channel_to_crm(channel)) is channel


@pytest.mark.parametrize("label", ["Fax", "", "in person", "Face_to_face_vod", "IN_PERSON"])
def test_unknown_ctms_channel_is_refused(label):
    with pytest.raises(ValueError, match=r"unknown CTMS channel"):
        channel_from_ctms(label)


@pytest.mark.parametrize("value", ["Fax_vod", "", "In Person", "face_to_face_vod", "PHONE"])
def test_unknown_crm_channel_is_refused(value):
    with pytest.raises(ValueError, match=r"unknown CRM call channel"):
        channel_from_crm(value)
