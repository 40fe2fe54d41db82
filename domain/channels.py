"""The unified channel picklist, and its labels in the CTMS."""

from __future__ import annotations

from enum import Enum


class Channel(Enum):
    IN_PERSON = "IN_PERSON"
    VIDEO = "VIDEO"
    PHONE = "PHONE"
    CHAT_TEXT = "CHAT_TEXT"
    EMAIL = "EMAIL"
    OTHER = "OTHER"


# The CTMS channel label of each unified channel (the CRM's picklist values are the CRM source's business).
_TABLE: dict[Channel, str] = {
    Channel.IN_PERSON: "In Person",
    Channel.VIDEO: "Video",
    Channel.PHONE: "Phone",
    Channel.CHAT_TEXT: "Chat/Text",
    Channel.EMAIL: "Email",
    Channel.OTHER: "Other",
}
_FROM_CTMS = {ctms: ch for ch, ctms in _TABLE.items()}


def channel_to_ctms(channel: Channel) -> str:
    """The CTMS channel label."""
    return _TABLE[channel]


def channel_from_ctms(label: str) -> Channel:
    try:
        return _FROM_CTMS[label]
    except KeyError:
        raise ValueError(f"unknown CTMS channel {label!r}") from None
