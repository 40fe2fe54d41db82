"""The unified model: people, studies and their parts, accounts, activities and their sync states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from domain.channels import Channel
from domain.status import ActivityStatus


class ActivityKind(Enum):
    CLINICAL = "CLINICAL"
    MEDICAL = "MEDICAL"


class SourceSystem(Enum):
    CTMS = "CTMS"
    CRM = "CRM"


class SyncState(Enum):
    """Where the mirror of an activity stands in one target: PENDING until delivered (or finally refused)."""

    PENDING = "PENDING"
    SYNCED = "SYNCED"
    FAILED = "FAILED"
    NO_MATCH = "NO_MATCH"
    CONFLICT = "CONFLICT"


class IntentStatus(Enum):
    """Where a recorded write stands: PENDING until its system-of-record write is known to have happened (DONE)
    or known not to have (ABANDONED; a replay may reopen it)."""

    PENDING = "pending"
    DONE = "done"
    ABANDONED = "abandoned"


class JobState(Enum):
    """Where a reconciliation job stands: RUNNING until it ends DONE or FAILED, or INTERRUPTED when its process
    stopped before it ended."""

    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


class ContextKind(Enum):
    """What a clinical activity is logged against; the CRM-side label of each is its value."""

    STUDY = "Study"
    STUDY_COUNTRY = "Study Country"
    STUDY_SITE = "Study Site"
    STUDY_PERSONNEL = "Study Personnel"


@dataclass(frozen=True)
class Person:
    id: str
    first_name: str
    last_name: str
    email: str | None
    # Identifier field name -> value, for the fields the connections match on.
    identifiers: dict[str, str | None]


@dataclass(frozen=True)
class Study:
    id: str
    name: str


@dataclass(frozen=True)
class StudyCountry:
    id: str
    name: str
    study_id: str


@dataclass(frozen=True)
class StudySite:
    id: str
    name: str
    study_id: str
    study_country_id: str | None


@dataclass(frozen=True)
class StudyPersonnel:
    id: str
    person_id: str
    study_id: str
    site_id: str | None
    role: str | None


@dataclass(frozen=True)
class ContextRef:
    kind: ContextKind
    id: str


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    identifier: str | None


@dataclass(frozen=True)
class ClinicalActivity:
    """An activity logged in the CTMS against one person and one context."""

    id: str
    person_id: str
    context: ContextRef
    date: date
    channel: Channel
    completed: bool
    subject: str | None
    owner: str | None
    modified_at: datetime | None = None

    @property
    def status(self) -> ActivityStatus:
        return ActivityStatus.COMPLETED if self.completed else ActivityStatus.PLANNED


@dataclass(frozen=True)
class MedicalActivity:
    """A CRM call sent to Clinical; `ctms_id` is its Medical Activity record in the CTMS once mirrored."""

    connection: str
    call_id: str
    account_id: str
    person_id: str | None
    date: date
    channel: Channel
    completed: bool
    subject: str | None
    owner: str | None
    ctms_id: str | None = None
    modified_at: datetime | None = None

    @property
    def status(self) -> ActivityStatus:
        return ActivityStatus.COMPLETED if self.completed else ActivityStatus.PLANNED

    @property
    def call_key(self) -> str:
        """The external id of its CTMS mirror: unique across orgs."""
        return f"{self.connection}:{self.call_id}"


@dataclass(frozen=True)
class SyncStatus:
    connection: str | None
    state: SyncState
    remote_id: str | None
    attempts: int
    last_error: str | None
    updated_at: datetime
