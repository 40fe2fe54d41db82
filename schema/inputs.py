"""Input types of the contract, converted to domain values."""

from __future__ import annotations

from datetime import date

import strawberry

from domain import ActivityKind as _Kind
from domain import ActivityStatus as _Status
from domain import Channel as _Channel
from domain.timeline import TimelineFilter as _Filter
from schema.enums import ActivityKind, ActivityStatus, Channel


@strawberry.input
class TimelineFilter:
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    channels: list[Channel] | None = None
    statuses: list[ActivityStatus] | None = None
    kinds: list[ActivityKind] | None = None

    def to_domain(self) -> _Filter:
        return _Filter(
            date_from=self.from_, date_to=self.to,
            channels=frozenset(_Channel(c.value) for c in self.channels) if self.channels is not None else None,
            statuses=frozenset(_Status(s.value) for s in self.statuses) if self.statuses is not None else None,
            kinds=frozenset(_Kind(k.value) for k in self.kinds) if self.kinds is not None else None)


@strawberry.input(description="Exactly one of the four.")
class ActivityContextInput:
    study_id: strawberry.ID | None = None
    study_country_id: strawberry.ID | None = None
    study_site_id: strawberry.ID | None = None
    study_personnel_id: strawberry.ID | None = None


@strawberry.input
class CreateClinicalActivityInput:
    person_id: strawberry.ID
    context: ActivityContextInput
    date: date
    channel: Channel
    completed: bool
    subject: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Repeating a request with the same key returns the first result and writes nothing new.")


@strawberry.input
class UpdateClinicalActivityInput:
    id: strawberry.ID
    date: date | None = None
    channel: Channel | None = None
    completed: bool | None = None
    subject: str | None = strawberry.UNSET


@strawberry.input
class SendCallToClinicalInput:
    connection_id: strawberry.ID
    call_id: strawberry.ID = strawberry.field(description="The CRM call (Call2_vod__c) id.")


@strawberry.input
class LogCallInput:
    connection_id: strawberry.ID
    person_id: strawberry.ID
    date: date
    channel: Channel
    completed: bool
    subject: str | None = None
    send_to_clinical: bool = False
    idempotency_key: str | None = None


@strawberry.input
class UpdateConnectionInput:
    id: strawberry.ID
    enabled: bool | None = None
    ctms_identifier_field: str | None = None
    crm_identifier_field: str | None = None
