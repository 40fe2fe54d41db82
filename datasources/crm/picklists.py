"""The CRM's picklist values for the unified channel and status: one to one, refused when unknown."""

from __future__ import annotations

from domain import Channel

# The Call_Channel_vod__c (and Channel_vod__c) API name of each unified channel.
_CHANNELS: dict[Channel, str] = {
    Channel.IN_PERSON: "Face_to_face_vod",
    Channel.VIDEO: "Video_vod",
    Channel.PHONE: "Phone_vod",
    Channel.CHAT_TEXT: "Message_vod",
    Channel.EMAIL: "Email_vod",
    Channel.OTHER: "Other_vod",
}
_FROM_CRM = {value: channel for channel, value in _CHANNELS.items()}

SUBMITTED = "Submitted_vod"
PLANNED = "Planned_vod"
SAVED = "Saved_vod"
_COMPLETED_BY_CRM = {SUBMITTED: True, PLANNED: False, SAVED: False}


def channel_to_crm(channel: Channel) -> str:
    """The CRM `Call_Channel_vod__c` API name."""
    return _CHANNELS[channel]


def channel_from_crm(value: str) -> Channel:
    try:
        return _FROM_CRM[value]
    except KeyError:
        raise ValueError(f"unknown CRM call channel {value!r}") from None


def status_to_crm(completed: bool) -> str:
    """Completed Yes is `Submitted_vod`; anything else is `Planned_vod`."""
    return SUBMITTED if completed else PLANNED


def completed_from_crm(status: str) -> bool:
    """`Submitted_vod` is Completed Yes; `Planned_vod` and `Saved_vod` are No."""
    try:
        return _COMPLETED_BY_CRM[status]
    except KeyError:
        raise ValueError(f"unknown CRM call status {status!r}") from None
