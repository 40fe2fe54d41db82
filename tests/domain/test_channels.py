"""The unified channel picklist maps one to one to the CTMS labels (the CRM values: tests/datasources)."""

import pytest

from domain.channels import Channel, channel_from_ctms, channel_to_ctms

TABLE = [
    (Channel.IN_PERSON, "In Person"),
    (Channel.VIDEO, "Video"),
    (Channel.PHONE, "Phone"),
    (Channel.CHAT_TEXT, "Chat/Text"),
    (Channel.EMAIL, "Email"),
    (Channel.OTHER, "Other"),
]


def test_table_covers_every_channel_once():
    assert {row[0] for row in TABLE} == set(Channel)
    assert len({row[1] for row in TABLE}) == len(Channel) == 6


@pytest.mark.parametrize(("channel", "ctms"), TABLE)
def test_channel_to_ctms(channel, ctms):
    assert channel_to_ctms(channel) == ctms


@pytest.mark.parametrize(("channel", "ctms"), TABLE)
def test_channel_from_ctms(channel, ctms):
    assert channel_from_ctms(ctms) is channel


@pytest.mark.parametrize("channel", list(Channel))
def test_round_trip_through_the_ctms(channel):
    assert channel_from_ctms(channel_to_ctms(channel)) is channel


@pytest.mark.parametrize("label", ["Fax", "", "in person", "Face_to_face_vod", "IN_PERSON"])
def test_unknown_ctms_channel_is_refused(label):
    with pytest.raises(ValueError, match=r"unknown CTMS channel"):
        channel_from_ctms(label)
