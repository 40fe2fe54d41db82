"""What the resolvers ask of the backends, in domain terms: one source per backend, behind these protocols.

`ClinicalSource` is the CTMS, `CrmSource` one CRM org; `Sources` hands them out. Their methods take and return
domain objects and the small dataclasses below: no backend field name and no query text crosses this boundary
(`datasources/ctms/source.py` and `datasources/crm/source.py` hold those). Every lookup takes any number of ids
or values and makes as few backend calls as it can; batching across resolvers is `datasources/loaders.py`'s job.
A backend that cannot answer raises `SourceError` (`SourceUnavailable` worth retrying, `SourceRejected` not);
a write one record of which is refused returns that record's `RowError` in its place."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, Protocol, TypeVar

from datasources.errors import RowError
from datasources.store.models import ConnectionRow
from datasources.window import Window
from domain import (
    Account,
    Channel,
    ClinicalActivity,
    ContextKind,
    MedicalActivity,
    NewClinicalActivity,
    Person,
    Study,
    StudyCountry,
    StudyPersonnel,
    StudySite,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Changes(Generic[T]):
    """What changed at a source after a high-water mark, oldest first, and the mark to continue from.

    Marks are the source's own text, kept as they come (the store saves them); `mark` is None when nothing
    changed, and the old mark stays."""

    items: list[T]
    mark: str | None


@dataclass(frozen=True)
class ClinicalChanges:
    """What an update sets on a clinical activity: None leaves a field as it is; `subject_set` says whether
    the subject is set (possibly to None)."""

    date: date | None = None
    channel: Channel | None = None
    completed: bool | None = None
    subject: str | None = None
    subject_set: bool = False

    @property
    def empty(self) -> bool:
        return self.date is None and self.channel is None and self.completed is None and not self.subject_set

    def summary(self) -> dict[str, object]:
        """The changed fields by their domain names, for the intent and the audit log."""
        out: dict[str, object] = {}
        if self.date is not None:
            out["date"] = self.date.isoformat()
        if self.channel is not None:
            out["channel"] = self.channel.value
        if self.completed is not None:
            out["completed"] = self.completed
        if self.subject_set:
            out["subject"] = self.subject
        return out


@dataclass(frozen=True)
class Call:
    """A CRM call: the medical activity it is (no person yet), whether it is sent to Clinical, and the
    identifier value of its account (what finds its person in the CTMS)."""

    activity: MedicalActivity
    sent: bool
    identifier: str | None


@dataclass(frozen=True)
class CallChange:
    """A call changed in its org: created, edited, sent to Clinical or withdrawn from it."""

    call_id: str
    sent: bool
    changed_at: datetime | None


@dataclass(frozen=True)
class Interaction:
    """The Vault Clinical Interaction mirror of a clinical activity in one org: the matched account, the org's
    Clinical Study / Clinical Site records it refers to, and the name of its context."""

    activity: ClinicalActivity
    account_id: str
    study_ref: str | None
    site_ref: str | None
    context_name: str | None


@dataclass(frozen=True)
class MirroredInteraction:
    """A Vault Clinical Interaction as an org holds it, read back by the CTMS activity id it mirrors: what
    reconciliation compares with the activity (None where the org holds a value no activity could have)."""

    activity_id: str
    record_id: str
    account_id: str | None
    date: date | None
    channel: Channel | None
    completed: bool | None
    subject: str | None
    owner: str | None
    context: ContextKind | None


class ClinicalSource(Protocol):
    """The CTMS: people, studies and their parts, and the activities logged against people."""

    @property
    def label(self) -> str:
        """The source's name in timeline keys and errors ("ctms")."""

    # -- people, studies and their parts (lookups by id skip ids that cannot be record ids) --------------------
    async def people(self, ids: Sequence[str], identifiers: Sequence[str]) -> list[Person]:
        """The people found; `identifiers` names the identifier fields to read into `Person.identifiers`."""

    async def search_people(self, text: str | None, after_id: str | None, limit: int,
                            identifiers: Sequence[str]) -> list[Person]:
        """At most `limit` people whose name or email contains `text`, by id, after `after_id`."""

    async def people_with(self, field: str, values: Sequence[str]) -> dict[str, list[str]]:
        """Identifier value -> ids of the people carrying it in `field` (a connection's CTMS identifier field)."""

    async def studies(self, ids: Sequence[str]) -> list[Study]: ...

    async def search_studies(self, text: str | None, after_id: str | None, limit: int) -> list[Study]:
        """At most `limit` studies whose name contains `text`, by id, after `after_id`."""

    async def countries(self, ids: Sequence[str]) -> list[StudyCountry]: ...

    async def sites(self, ids: Sequence[str]) -> list[StudySite]: ...

    async def personnel(self, ids: Sequence[str]) -> list[StudyPersonnel]: ...

    async def roles_of(self, person_ids: Sequence[str]) -> list[StudyPersonnel]:
        """The study personnel records of these people, by name."""

    async def countries_of(self, study_ids: Sequence[str]) -> list[StudyCountry]:
        """The countries of these studies, by name."""

    async def sites_of(self, study_ids: Sequence[str]) -> list[StudySite]:
        """The sites of these studies, by name."""

    # -- activities ------------------------------------------------------------------------------------------
    async def activities_for(self, person_ids: Sequence[str], window: Window, *, connected: Sequence[str]
                             ) -> dict[str, list[ClinicalActivity | MedicalActivity]]:
        """Person id -> one timeline window of that person's activities, newest first (date, then record id).

        Medical activities are the CTMS copies of calls from orgs not in `connected` (a connected org is read
        itself). With one person, at most `window.first + 1` are returned."""

    async def clinical(self, ids: Sequence[str]) -> list[ClinicalActivity]:
        """The clinical activities found (a medical activity's id finds nothing)."""

    async def clinical_written_by(self, marker: str) -> ClinicalActivity | None:
        """The clinical activity a gateway request wrote, by the request's marker (its intent id)."""

    async def create_clinical(self, new: NewClinicalActivity, *, owner: str | None, marker: str) -> str | RowError:
        """Create, keyed by `marker` (so a retry writes it once); its id, or the refusal."""

    async def update_clinical(self, activity_id: str, changes: ClinicalChanges) -> RowError | None:
        """Apply non-empty changes; None when done, or the refusal."""

    async def delete_clinical(self, activity_id: str) -> RowError | None: ...

    async def medical_copy(self, call_key: str) -> MedicalActivity | None:
        """The CTMS copy (Medical Activity) of a call, by `MedicalActivity.call_key`."""

    async def upsert_medical(self, calls: Sequence[MedicalActivity]) -> list[str | RowError]:
        """Write the copies of calls whose `person_id` is set, keyed by call key; per call its CTMS id or refusal."""

    async def delete_medical(self, call_keys: Sequence[str]) -> None:
        """Delete the copies of these calls that exist."""

    async def changes_since(self, mark: str | None, limit: int) -> Changes[ClinicalActivity]:
        """Up to `limit` clinical activities changed after `mark` (None: from the beginning)."""

    # -- reconciliation: everything in a window of activity dates (None: from the beginning) ---------------
    async def clinical_since(self, day: date | None) -> list[ClinicalActivity]:
        """The clinical activities dated `day` or later."""

    async def medical_copies_since(self, connection: str, day: date | None) -> list[MedicalActivity]:
        """The CTMS copies of the calls of one org dated `day` or later."""

    async def medical_copies(self, call_keys: Sequence[str]) -> list[MedicalActivity]:
        """The CTMS copies of these calls that exist, by `MedicalActivity.call_key`."""

    async def deletions_since(self, mark: str | None) -> Changes[str]:
        """Ids of activities deleted after `mark`."""

    # -- metadata --------------------------------------------------------------------------------------------
    async def person_fields(self) -> set[str]:
        """The field names a person record has (for choosing a connection's identifier field)."""

    def mirror_fields(self) -> dict[str, str]:
        """The activity field holding each mirrored attribute: person, date, channel, completed, owner, subject."""


class CrmSource(Protocol):
    """One CRM org, matched on one account identifier field: its accounts, its calls, and the mirrors in it."""

    @property
    def label(self) -> str:
        """The source's name in timeline keys and errors ("crm:<connection>")."""

    async def accounts_with(self, values: Sequence[str]) -> list[Account]:
        """The accounts whose identifier is one of `values`."""

    async def activities_for(self, values: Sequence[str], window: Window) -> dict[str, list[MedicalActivity]]:
        """Identifier value -> one timeline window of the calls sent to Clinical under accounts carrying it,
        newest first (date, then id); with one value, at most `window.first + 1`."""

    async def calls(self, ids: Sequence[str]) -> list[Call]:
        """The calls found, sent to Clinical or not."""

    async def log_call(self, *, marker: str, account_id: str, day: date, channel: Channel, completed: bool,
                       subject: str | None, send_to_clinical: bool) -> str:
        """Create a call, keyed by `marker` (a retry writes it once); its id. Raises SourceRejected if refused."""

    async def call_logged_by(self, marker: str) -> str | None:
        """The id of the call a gateway request wrote, by the request's marker."""

    async def send_to_clinical(self, call_id: str) -> None:
        """Mark a call "Send to Vault Clinical". Raises SourceRejected if refused."""

    async def upsert_interactions(self, rows: Sequence[Interaction]) -> list[str | RowError]:
        """Write the mirrors, keyed by the CTMS activity id; per row its record id or refusal."""

    async def delete_interactions(self, activity_ids: Sequence[str]) -> dict[str, str]:
        """Delete the mirrors of these activities that exist; CTMS activity id -> the deleted record's id."""

    async def upsert_studies(self, studies: Sequence[Study]) -> list[str | RowError]:
        """The org's Clinical Study record of each study (keyed by CTMS id); its id or refusal."""

    async def upsert_sites(self, sites: Sequence[tuple[StudySite, str | None]]) -> list[str | RowError]:
        """The org's Clinical Site record of each site, with its Clinical Study record id; its id or refusal."""

    async def changes_since(self, mark: str | None, limit: int) -> Changes[CallChange]:
        """Up to `limit` calls changed after `mark` (None: from the beginning)."""

    # -- reconciliation: everything in a window of activity dates (None: from the beginning) ---------------
    async def calls_sent_since(self, day: date | None) -> list[Call]:
        """The calls sent to Clinical dated `day` or later."""

    async def interactions_since(self, day: date | None) -> list[MirroredInteraction]:
        """The mirrors of clinical activities dated `day` or later (as the org holds them)."""

    async def interactions(self, activity_ids: Sequence[str]) -> list[MirroredInteraction]:
        """The mirrors of these CTMS activities that exist."""

    async def deletions_since(self, mark: str | None) -> Changes[str]:
        """Ids of calls deleted after `mark`, as far back as the org keeps them."""

    async def account_fields(self) -> set[str]:
        """The field names an account record has (for choosing a connection's identifier field)."""

    async def api_versions(self) -> list[str]:
        """The API versions the org offers ("66.0"); asks for no token, so it answers as long as the org does."""

    async def sign_in(self) -> None:
        """Sign in with the connection's credentials, unless signed in already. Raises SourceRejected if refused."""

    def mirror_fields(self) -> dict[str, str]:
        """The interaction field holding each mirrored attribute: person, date, channel, completed, owner, subject."""


@dataclass(frozen=True)
class Org:
    """An enabled connection as the read and write paths need it: its org's source and the identifier fields
    matched on each side."""

    name: str
    crm: CrmSource
    ctms_field: str
    crm_field: str

    @property
    def source(self) -> str:
        return f"crm:{self.name}"


class Sources(Protocol):
    """The backends of a process: the CTMS, and the org of each connection."""

    @property
    def clinical(self) -> ClinicalSource: ...

    def org(self, row: ConnectionRow) -> Org:
        """The org of a connection (its client is made once and reused)."""

    def trial(self, row: ConnectionRow) -> AbstractAsyncContextManager[CrmSource]:
        """The org of a connection over a client of its own, closed on exit, that has not signed in yet."""

    def missing_secrets(self, row: ConnectionRow) -> list[str]:
        """The variables the connection's sign-in needs that hold nothing in this process."""

    async def close(self) -> None: ...
