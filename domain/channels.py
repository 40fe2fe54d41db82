"""The channel picklist, one to one between the unified model, the CTMS and the CRM."""

from __future__ import annotations

from enum import Enum


class Channel(Enum):
    IN_PERSON = "IN_PERSON"
    VIDEO = "VIDEO"
    PHONE = "PHONE"
    CHAT_TEXT = "CHAT_TEXT"
    EMAIL = "EMAIL"
    OTHER = "OTHER"


# (CTMS label, CRM Call_Channel_vod__c API name) for each unified channel.
_TABLE: dict[Channel, tuple[str, str]] = {
    Channel.IN_PERSON: ("In Person", "Face_to_face_vod"),
    Channel.VIDEO: ("Video", "Video_vod"),
    Channel.PHONE: ("Phone", "Phone_vod"),
    Channel.CHAT_TEXT: ("Chat/Text", "Message_vod"),
    Channel.EMAIL: ("Email", "Email_vod"),
    Channel.OTHER: ("Other", "Other_vod"),
}
_FROM_CTMS = {ctms: ch for ch, (ctms, _) in _TABLE.items()}
_FROM_CRM = {crm: ch for ch, (_, crm) in _TABLE.items()}


def channel_to_ctms(channel: Channel) -> str:
    """The CTMS channel label."""
    return _TABLE[channel][0]


def channel_to_crm(channel: Channel) -> str:
    """The CRM `Call_Channel_vod__c` API name."""
    return _TABLE[channel][1]


def channel_from_ctms(label: str) -> Channel:
    try:
        return _FROM_CTMS[label]
    except KeyError:
        raise ValueError(f"unknown CTMS channel {label!r}") from None


def channel_from_crm(value: str) -> Channel:
    try:
        return _FROM_CRM[value]
    except KeyError:
        raise ValueError(f"unknown CRM call channel {value!r}") from None
