"""In-memory fakes of the source protocols (datasources/sources.py): the CTMS and CRM orgs as dicts, with the real
ordering, resume, matching and upsert rules, and knobs a test turns (failures, refusals, crashes, call counts).

Each fake also has helpers that change its data directly, as a user of that system would (not through the gateway):
those are not counted in `counts`."""

from __future__ import annotations

import copy
import functools
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

from datasources.crm.mapping import EXTERNAL_ID as CRM_EXTERNAL_ID
from datasources.crm.mapping import NPI_NUMBER as CRM_NPI_NUMBER
from datasources.crm.mapping import CrmMapping
from datasources.ctms.mapping import EXTERNAL_ID as CTMS_EXTERNAL_ID
from datasources.ctms.mapping import NPI_NUMBER as CTMS_NPI_NUMBER
from datasources.ctms.mapping import CtmsMapping
from datasources.errors import RowError, SourceError, SourceRejected, SourceUnavailable
from datasources.record_ids import is_record_id
from datasources.sources import (
    Call,
    CallChange,
    Changes,
    ClinicalChanges,
    CrmSource,
    Interaction,
    MirroredInteraction,
    Org,
)
from datasources.store.models import ConnectionRow
from datasources.window import Window
from domain import (
    Account,
    ActivityKind,
    Channel,
    ClinicalActivity,
    ContextRef,
    MedicalActivity,
    NewClinicalActivity,
    Person,
    Study,
    StudyCountry,
    StudyPersonnel,
    StudySite,
)
from domain.connections import NEEDED_VARIABLES, CrmAuth
from domain.timeline import Position, Resume, TimelineFilter, resume_after

P = ParamSpec("P")
R = TypeVar("R")
K = TypeVar("K", bound="Knobs")

# The codes the real backends give for a record they refuse (Vault; Salesforce).
CTMS_REFUSAL = "INVALID_DATA"
CRM_REFUSAL = "INVALID_CROSS_REFERENCE_KEY"
# What the org's integration user is called: the owner text of the calls the gateway logs.
INTEGRATION_OWNER = "Gateway Integration (integration@crm.example.com)"


class Crash(BaseException):
    """The process dies in the middle of a source call (as the gateway's crash points kill it): nothing after the
    call runs, and nothing catches it on the way out."""


# -- knobs ---------------------------------------------------------------------------------------------------------
@dataclass
class _Fault:
    error: type[SourceError]
    times: int | None  # None: until healed
    code: str | None


class Knobs:
    """What a test can turn on one fake source: whole calls failing, records refused, a crash around a write; and
    how many times each protocol method was called."""

    label: str

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._faults: dict[str, _Fault] = {}
        self._crashes: dict[str, bool] = {}  # method -> crash after the write (True) or before it
        self._refused: dict[str, str] = {}  # record key -> error code

    def fail(self, method: str, error: type[SourceError] = SourceUnavailable, *, times: int | None = None,
             code: str | None = None) -> None:
        """Make `method` raise `error` (SourceUnavailable or SourceRejected), `times` times or until healed."""
        if not hasattr(self, method):
            raise AttributeError(method)
        self._faults[method] = _Fault(error, times, code)

    def heal(self, method: str | None = None) -> None:
        """Stop the failures of `method` (of every method when None)."""
        if method is None:
            self._faults.clear()
        else:
            self._faults.pop(method, None)

    def crash(self, method: str, *, after_write: bool) -> None:
        """The next call of `method` raises Crash, before its write happens or after it happened."""
        if not hasattr(self, method):
            raise AttributeError(method)
        self._crashes[method] = after_write

    def refuse(self, key: str, code: str) -> None:
        """Writes of the record keyed by `key` are refused with `code` until `accept(key)` (see each write)."""
        self._refused[key] = code

    def accept(self, key: str) -> None:
        self._refused.pop(key, None)

    def _enter(self, method: str) -> None:
        self.counts[method] += 1
        if self._crashes.get(method) is False:
            del self._crashes[method]
            raise Crash(method)
        fault = self._faults.get(method)
        if fault is None:
            return
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self._faults[method]
        if fault.error is SourceRejected:
            raise SourceRejected(self.label, "request refused", code=fault.code, status=400)
        raise fault.error(self.label, "HTTP 503", status=503, code=fault.code)

    def _leave(self, method: str) -> None:
        if self._crashes.get(method) is True:
            del self._crashes[method]
            raise Crash(method)


def source_call(method: Callable[Concatenate[K, P], Awaitable[R]]) -> Callable[Concatenate[K, P], Awaitable[R]]:
    """A protocol method: counted, failed or crashed as the knobs say."""
    @functools.wraps(method)
    async def wrapper(self: K, *args: P.args, **kwargs: P.kwargs) -> R:
        self._enter(method.__name__)
        result = await method(self, *args, **kwargs)
        self._leave(method.__name__)
        return result
    return wrapper


# -- shared rules ----------------------------------------------------------------------------------------------------
class Clock:
    """Modification stamps: wall-clock time, strictly increasing (two changes never share a stamp)."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def tick(self) -> datetime:
        self._last = max(datetime.now(UTC), self._last + timedelta(microseconds=1))
        return self._last


class Ids:
    """Record ids in the backends' format: 15 letters and digits, a prefix per object, in creation order."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def new(self, prefix: str) -> str:
        n = next(self._counters.setdefault(prefix, itertools.count(1)))
        return f"{prefix}{n:0{15 - len(prefix)}d}"


def _since(mark: str | None) -> datetime:
    return datetime.fromisoformat(mark) if mark else datetime.min.replace(tzinfo=UTC)


def in_window(f: TimelineFilter, day: date, channel: Channel, completed: bool) -> bool:
    """Whether an activity passes a timeline filter's dates (inclusive), channels and statuses."""
    if f.date_from is not None and day < f.date_from:
        return False
    if f.date_to is not None and day > f.date_to:
        return False
    if f.channels is not None and channel not in f.channels:
        return False
    completed_values = f.completed_values()
    return completed_values is None or completed in completed_values


def resumes(after: Position | None, label: str, day: date, record_id: str) -> bool:
    """Whether a source ordered by (date desc, id desc) hands this record out after a merged position."""
    how, last_id = resume_after(after, label)
    if how is Resume.ALL or after is None:
        return True
    if how is Resume.BEFORE_DATE:
        return day < after.date
    if how is Resume.THROUGH_DATE:
        return day <= after.date
    return day < after.date or (day == after.date and last_id is not None and record_id < last_id)


def newest_first(found: list[tuple[date, str, R]], window: Window, single: bool) -> list[R]:
    """A window's records by date, then id, descending; one subject's cut at `first + 1` as the real queries."""
    found.sort(key=lambda t: (t[0], t[1]), reverse=True)
    items = [item for _, _, item in found]
    return items[:window.first + 1] if single else items


# -- the CTMS --------------------------------------------------------------------------------------------------------
@dataclass
class _Stored:
    activity: ClinicalActivity | MedicalActivity
    marker: str | None = None

    @property
    def id(self) -> str:
        a = self.activity
        return a.id if isinstance(a, ClinicalActivity) else a.ctms_id or ""


class FakeClinical(Knobs):
    """The CTMS: people (with identifier fields), studies and their parts, clinical activities and the Medical
    Activity copies of calls. A record refused by `refuse(key)`: a new clinical activity by its person id, an
    update or deletion by the activity id, a medical copy by its call key."""

    label = "ctms"

    def __init__(self, identifier_fields: Sequence[str] = (CTMS_EXTERNAL_ID, CTMS_NPI_NUMBER)) -> None:
        super().__init__()
        self.identifier_fields = list(identifier_fields)
        self.ids = Ids()
        self.clock = Clock()
        self.persons: dict[str, Person] = {}
        self.study_records: dict[str, Study] = {}
        self.country_records: dict[str, StudyCountry] = {}
        self.site_records: dict[str, StudySite] = {}
        self.personnel_records: dict[str, StudyPersonnel] = {}
        self.records: dict[str, _Stored] = {}
        self.deleted: list[tuple[str, datetime]] = []

    # -- direct changes (a CTMS user, not the gateway) ----------------------------------------------------------
    def add_person(self, first: str, last: str, email: str | None = None, **identifiers: str | None) -> str:
        pid = self.ids.new("0PE")
        self.persons[pid] = Person(pid, first, last, email, dict(identifiers))
        return pid

    def add_study(self, name: str) -> str:
        sid = self.ids.new("0ST")
        self.study_records[sid] = Study(sid, name)
        return sid

    def add_country(self, name: str, study_id: str) -> str:
        cid = self.ids.new("0SC")
        self.country_records[cid] = StudyCountry(cid, name, study_id)
        return cid

    def add_site(self, name: str, study_id: str, country_id: str | None = None) -> str:
        sid = self.ids.new("0SI")
        self.site_records[sid] = StudySite(sid, name, study_id, country_id)
        return sid

    def add_personnel(self, person_id: str, study_id: str, site_id: str | None, role: str | None) -> str:
        pid = self.ids.new("0SP")
        self.personnel_records[pid] = StudyPersonnel(pid, person_id, study_id, site_id, role)
        return pid

    def log_activity(self, person_id: str, context: ContextRef, day: date, *, channel: Channel = Channel.PHONE,
                     completed: bool = True, subject: str | None = None, owner: str | None = None) -> str:
        aid = self.ids.new("0AC")
        self.records[aid] = _Stored(ClinicalActivity(aid, person_id, context, day, channel, completed, subject,
                                                     owner, self.clock.tick()))
        return aid

    def edit_activity(self, activity_id: str, **changes: object) -> None:
        stored = self.records[activity_id]
        stored.activity = replace(stored.activity, **changes, modified_at=self.clock.tick())

    def remove_activity(self, activity_id: str) -> None:
        del self.records[activity_id]
        self.deleted.append((activity_id, self.clock.tick()))

    def add_copy(self, call: MedicalActivity) -> str:
        """A Medical Activity copied in by an org the gateway has no connection to."""
        cid = self.ids.new("0AC")
        self.records[cid] = _Stored(replace(call, ctms_id=cid, modified_at=self.clock.tick()))
        return cid

    def activity(self, activity_id: str) -> ClinicalActivity | MedicalActivity | None:
        stored = self.records.get(activity_id)
        return stored.activity if stored else None

    def clinical_activities(self) -> list[ClinicalActivity]:
        return [s.activity for s in self.records.values() if isinstance(s.activity, ClinicalActivity)]

    def copies(self) -> list[MedicalActivity]:
        return [s.activity for s in self.records.values() if isinstance(s.activity, MedicalActivity)]

    # -- people, studies and their parts ---------------------------------------------------------------------
    def _person(self, p: Person, identifiers: Sequence[str]) -> Person:
        return replace(p, identifiers={f: p.identifiers.get(f) for f in identifiers})

    @source_call
    async def people(self, ids: Sequence[str], identifiers: Sequence[str]) -> list[Person]:
        return [self._person(self.persons[i], identifiers) for i in ids if is_record_id(i) and i in self.persons]

    @source_call
    async def search_people(self, text: str | None, after_id: str | None, limit: int,
                            identifiers: Sequence[str]) -> list[Person]:
        def hit(p: Person) -> bool:
            return not text or any(text.lower() in (v or "").lower()
                                   for v in (p.first_name, p.last_name, p.email, f"{p.first_name} {p.last_name}"))
        found = [p for pid, p in sorted(self.persons.items()) if (after_id is None or pid > after_id) and hit(p)]
        return [self._person(p, identifiers) for p in found[:limit]]

    @source_call
    async def people_with(self, field: str, values: Sequence[str]) -> dict[str, list[str]]:
        wanted = set(values)
        found: dict[str, list[str]] = {}
        for pid, p in sorted(self.persons.items()):
            value = p.identifiers.get(field)
            if value in wanted:
                found.setdefault(value, []).append(pid)
        return found

    @source_call
    async def studies(self, ids: Sequence[str]) -> list[Study]:
        return [self.study_records[i] for i in ids if i in self.study_records]

    @source_call
    async def search_studies(self, text: str | None, after_id: str | None, limit: int) -> list[Study]:
        found = [s for sid, s in sorted(self.study_records.items())
                 if (after_id is None or sid > after_id) and (not text or text.lower() in s.name.lower())]
        return found[:limit]

    @source_call
    async def countries(self, ids: Sequence[str]) -> list[StudyCountry]:
        return [self.country_records[i] for i in ids if i in self.country_records]

    @source_call
    async def sites(self, ids: Sequence[str]) -> list[StudySite]:
        return [self.site_records[i] for i in ids if i in self.site_records]

    @source_call
    async def personnel(self, ids: Sequence[str]) -> list[StudyPersonnel]:
        return [self.personnel_records[i] for i in ids if i in self.personnel_records]

    @source_call
    async def roles_of(self, person_ids: Sequence[str]) -> list[StudyPersonnel]:
        # A personnel record's name is not in the domain; its id follows creation order, as the names do here.
        return [sp for _, sp in sorted(self.personnel_records.items()) if sp.person_id in set(person_ids)]

    @source_call
    async def countries_of(self, study_ids: Sequence[str]) -> list[StudyCountry]:
        return sorted((c for c in self.country_records.values() if c.study_id in set(study_ids)), key=lambda c: c.name)

    @source_call
    async def sites_of(self, study_ids: Sequence[str]) -> list[StudySite]:
        return sorted((s for s in self.site_records.values() if s.study_id in set(study_ids)), key=lambda s: s.name)

    # -- activities --------------------------------------------------------------------------------------------
    def _wanted(self, a: ClinicalActivity | MedicalActivity, f: TimelineFilter, connected: Sequence[str]) -> bool:
        if isinstance(a, ClinicalActivity):
            return f.wants(ActivityKind.CLINICAL)
        return f.wants(ActivityKind.MEDICAL) and a.connection not in connected

    @source_call
    async def activities_for(self, person_ids: Sequence[str], window: Window, *, connected: Sequence[str]
                             ) -> dict[str, list[ClinicalActivity | MedicalActivity]]:
        by_person: dict[str, list[tuple[date, str, ClinicalActivity | MedicalActivity]]] = {}
        for stored in self.records.values():
            a = stored.activity
            if a.person_id not in set(person_ids) or not self._wanted(a, window.filter, connected):
                continue
            if in_window(window.filter, a.date, a.channel, a.completed) and \
                    resumes(window.after, self.label, a.date, stored.id):
                by_person.setdefault(a.person_id or "", []).append((a.date, stored.id, a))
        single = len(person_ids) == 1
        return {pid: newest_first(found, window, single) for pid, found in by_person.items()}

    @source_call
    async def clinical(self, ids: Sequence[str]) -> list[ClinicalActivity]:
        found = [self.records[i].activity for i in ids if i in self.records]
        return [a for a in found if isinstance(a, ClinicalActivity)]

    @source_call
    async def clinical_written_by(self, marker: str) -> ClinicalActivity | None:
        return next((s.activity for s in self.records.values()
                     if s.marker == marker and isinstance(s.activity, ClinicalActivity)), None)

    def _references_exist(self, new: NewClinicalActivity) -> bool:
        parts = {"Study": self.study_records, "Study Country": self.country_records, "Study Site": self.site_records,
                 "Study Personnel": self.personnel_records}
        return new.person_id in self.persons and new.context.id in parts[new.context.kind.value]

    @source_call
    async def create_clinical(self, new: NewClinicalActivity, *, owner: str | None, marker: str) -> str | RowError:
        if new.person_id in self._refused:
            return RowError(self._refused[new.person_id])
        if not self._references_exist(new):
            return RowError(CTMS_REFUSAL)
        # An upsert on the request's marker: a retry of the same request writes the same record.
        aid = next((i for i, s in self.records.items() if s.marker == marker), None) or self.ids.new("0AC")
        self.records[aid] = _Stored(ClinicalActivity(aid, new.person_id, new.context, new.date, new.channel,
                                                     new.completed, new.subject, owner, self.clock.tick()), marker)
        return aid

    @source_call
    async def update_clinical(self, activity_id: str, changes: ClinicalChanges) -> RowError | None:
        stored = self.records.get(activity_id)
        if stored is None or not isinstance(stored.activity, ClinicalActivity) or activity_id in self._refused:
            return RowError(self._refused.get(activity_id, CTMS_REFUSAL))
        a = stored.activity
        stored.activity = replace(a, date=changes.date or a.date, channel=changes.channel or a.channel,
                                  completed=a.completed if changes.completed is None else changes.completed,
                                  subject=changes.subject if changes.subject_set else a.subject,
                                  modified_at=self.clock.tick())
        return None

    @source_call
    async def delete_clinical(self, activity_id: str) -> RowError | None:
        if activity_id not in self.records or activity_id in self._refused:
            return RowError(self._refused.get(activity_id, CTMS_REFUSAL))
        self.remove_activity(activity_id)
        return None

    def _copy_of(self, call_key: str) -> _Stored | None:
        return next((s for s in self.records.values()
                     if isinstance(s.activity, MedicalActivity) and s.activity.call_key == call_key), None)

    @source_call
    async def medical_copy(self, call_key: str) -> MedicalActivity | None:
        stored = self._copy_of(call_key)
        return stored.activity if stored and isinstance(stored.activity, MedicalActivity) else None

    @source_call
    async def upsert_medical(self, calls: Sequence[MedicalActivity]) -> list[str | RowError]:
        results: list[str | RowError] = []
        for call in calls:
            if call.person_id is None:
                raise ValueError(f"call {call.call_key} has no person to be copied under")
            if call.call_key in self._refused or call.person_id not in self.persons:
                results.append(RowError(self._refused.get(call.call_key, CTMS_REFUSAL)))
                continue
            existing = self._copy_of(call.call_key)
            cid = existing.id if existing else self.ids.new("0AC")
            self.records[cid] = _Stored(replace(call, ctms_id=cid, modified_at=self.clock.tick()))
            results.append(cid)
        return results

    @source_call
    async def delete_medical(self, call_keys: Sequence[str]) -> None:
        for key in call_keys:
            stored = self._copy_of(key)
            if stored is not None:
                self.remove_activity(stored.id)

    @source_call
    async def changes_since(self, mark: str | None, limit: int) -> Changes[ClinicalActivity]:
        after = _since(mark)
        changed = sorted((a for a in self.clinical_activities() if a.modified_at and a.modified_at > after),
                         key=lambda a: a.modified_at or after)[:limit]
        last = changed[-1].modified_at if changed else None
        return Changes(changed, last.isoformat() if last else None)

    # -- reconciliation ----------------------------------------------------------------------------------------
    @source_call
    async def clinical_since(self, day: date | None) -> list[ClinicalActivity]:
        return sorted((a for a in self.clinical_activities() if day is None or a.date >= day), key=lambda a: a.id)

    @source_call
    async def medical_copies_since(self, connection: str, day: date | None) -> list[MedicalActivity]:
        return sorted((c for c in self.copies() if c.connection == connection and (day is None or c.date >= day)),
                      key=lambda c: c.ctms_id or "")

    @source_call
    async def medical_copies(self, call_keys: Sequence[str]) -> list[MedicalActivity]:
        return [c for c in self.copies() if c.call_key in set(call_keys)]

    @source_call
    async def deletions_since(self, mark: str | None) -> Changes[str]:
        after = _since(mark)
        gone = [(aid, at) for aid, at in self.deleted if at > after]
        return Changes([aid for aid, _ in gone], gone[-1][1].isoformat() if gone else None)

    # -- metadata ----------------------------------------------------------------------------------------------
    @source_call
    async def person_fields(self) -> set[str]:
        m = CtmsMapping()
        return {"id", m.first_name, m.last_name, m.email, m.record_name, *self.identifier_fields}

    def mirror_fields(self) -> dict[str, str]:
        m = CtmsMapping()
        return {"person": m.act_person, "date": m.act_date, "channel": m.act_channel,
                "completed": m.act_completed, "owner": m.act_owner, "subject": m.act_subject}


# -- one CRM org -----------------------------------------------------------------------------------------------------
@dataclass
class StoredCall:
    account_id: str
    date: date
    channel: Channel
    completed: bool
    subject: str | None
    owner: str | None
    sent: bool
    modified_at: datetime
    marker: str | None = None


@dataclass
class StoredInteraction:
    """A Vault Clinical Interaction: its record id, what was last written, and how many writes it took."""

    id: str
    row: Interaction
    writes: int = 1


class FakeCrm(Knobs):
    """One CRM org: accounts (with identifier fields), calls, and the mirrors the gateway writes (interactions,
    Clinical Study and Site records). Accounts are matched on `identifier`, the connection's CRM field. A mirror
    refused by `refuse(key)` is keyed by its CTMS activity id; alone in a write, its refusal fails the call
    (SourceRejected), in a batch it is that row's RowError, as with the real org."""

    def __init__(self, connection: str, identifier: str = CRM_EXTERNAL_ID,
                 identifier_fields: Sequence[str] = (CRM_EXTERNAL_ID, CRM_NPI_NUMBER)) -> None:
        super().__init__()
        self.connection = connection
        self.identifier = identifier
        self.identifier_fields = list(identifier_fields)
        self.ids = Ids()
        self.clock = Clock()
        self.account_records: dict[str, tuple[str, dict[str, str | None]]] = {}
        self.call_records: dict[str, StoredCall] = {}
        self.deleted: list[tuple[str, datetime]] = []
        self.interaction_records: dict[str, StoredInteraction] = {}  # by CTMS activity id
        self.study_refs: dict[str, str] = {}  # CTMS study id -> Clinical Study id
        self.site_refs: dict[str, tuple[str, str | None]] = {}  # CTMS site id -> (Clinical Site id, its study's)
        self.versions = ["65.0", "66.0"]
        self.signed_in = False

    @property
    def label(self) -> str:
        return f"crm:{self.connection}"

    # -- direct changes (a CRM user, not the gateway) -----------------------------------------------------------
    def add_account(self, name: str, **identifiers: str | None) -> str:
        aid = self.ids.new("001")
        self.account_records[aid] = (name, dict(identifiers))
        return aid

    def add_call(self, account_id: str, day: date, *, channel: Channel = Channel.IN_PERSON, completed: bool = True,
                 subject: str | None = None, sent: bool = True, owner: str | None = None) -> str:
        cid = self.ids.new("a0C")
        self.call_records[cid] = StoredCall(account_id, day, channel, completed, subject, owner, sent,
                                            self.clock.tick())
        return cid

    def edit_call(self, call_id: str, **changes: object) -> None:
        self.call_records[call_id] = replace(self.call_records[call_id], **changes, modified_at=self.clock.tick())

    def remove_call(self, call_id: str) -> None:
        del self.call_records[call_id]
        self.deleted.append((call_id, self.clock.tick()))

    def _identifier_of(self, account_id: str) -> str | None:
        record = self.account_records.get(account_id)
        value = record[1].get(self.identifier) if record else None
        return None if value in (None, "") else str(value)

    def _medical(self, call_id: str, c: StoredCall) -> MedicalActivity:
        return MedicalActivity(self.connection, call_id, c.account_id, None, c.date, c.channel, c.completed,
                               c.subject, c.owner, modified_at=c.modified_at)

    # -- accounts and calls ------------------------------------------------------------------------------------
    @source_call
    async def accounts_with(self, values: Sequence[str]) -> list[Account]:
        return [Account(aid, name, self._identifier_of(aid)) for aid, (name, _) in sorted(self.account_records.items())
                if self._identifier_of(aid) in set(values)]

    @source_call
    async def activities_for(self, values: Sequence[str], window: Window) -> dict[str, list[MedicalActivity]]:
        f = window.filter
        by_value: dict[str, list[tuple[date, str, MedicalActivity]]] = {}
        if not f.wants(ActivityKind.MEDICAL):
            return {}
        for cid, c in self.call_records.items():
            value = self._identifier_of(c.account_id)
            if not c.sent or value not in set(values) or value is None:
                continue
            if in_window(f, c.date, c.channel, c.completed) and resumes(window.after, self.label, c.date, cid):
                by_value.setdefault(value, []).append((c.date, cid, self._medical(cid, c)))
        single = len(values) == 1
        return {v: newest_first(found, window, single) for v, found in by_value.items()}

    @source_call
    async def calls(self, ids: Sequence[str]) -> list[Call]:
        return [Call(self._medical(i, self.call_records[i]), self.call_records[i].sent,
                     self._identifier_of(self.call_records[i].account_id)) for i in ids if i in self.call_records]

    @source_call
    async def log_call(self, *, marker: str, account_id: str, day: date, channel: Channel, completed: bool,
                       subject: str | None, send_to_clinical: bool) -> str:
        if account_id not in self.account_records:
            raise SourceRejected(self.label, "request refused", code=CRM_REFUSAL, status=400)
        # An upsert on the request's marker: a retry of the same request writes the same call.
        cid = next((i for i, c in self.call_records.items() if c.marker == marker), None) or self.ids.new("a0C")
        self.call_records[cid] = StoredCall(account_id, day, channel, completed, subject, INTEGRATION_OWNER,
                                            send_to_clinical, self.clock.tick(), marker)
        return cid

    @source_call
    async def call_logged_by(self, marker: str) -> str | None:
        return next((i for i, c in self.call_records.items() if c.marker == marker), None)

    @source_call
    async def send_to_clinical(self, call_id: str) -> None:
        if call_id not in self.call_records:
            raise SourceRejected(self.label, "request refused", code="NOT_FOUND", status=404)
        self.edit_call(call_id, sent=True)

    # -- mirrors of clinical activities ------------------------------------------------------------------------
    def _refusal(self, row: Interaction) -> str | None:
        if row.activity.id in self._refused:
            return self._refused[row.activity.id]
        return None if row.account_id in self.account_records else CRM_REFUSAL

    @source_call
    async def upsert_interactions(self, rows: Sequence[Interaction]) -> list[str | RowError]:
        refusals = [self._refusal(r) for r in rows]
        if len(rows) == 1 and refusals[0] is not None:
            raise SourceRejected(self.label, "request refused", code=refusals[0], status=400)
        results: list[str | RowError] = []
        for row, refusal in zip(rows, refusals, strict=True):
            if refusal is not None:
                results.append(RowError(refusal))
                continue
            existing = self.interaction_records.get(row.activity.id)
            if existing is None:
                existing = self.interaction_records[row.activity.id] = StoredInteraction(self.ids.new("a1V"), row)
            else:
                existing.row, existing.writes = row, existing.writes + 1
            results.append(existing.id)
        return results

    @source_call
    async def delete_interactions(self, activity_ids: Sequence[str]) -> dict[str, str]:
        return {aid: self.interaction_records.pop(aid).id for aid in activity_ids if aid in self.interaction_records}

    @source_call
    async def upsert_studies(self, studies: Sequence[Study]) -> list[str | RowError]:
        for s in studies:
            self.study_refs.setdefault(s.id, self.ids.new("a2S"))
        return [self.study_refs[s.id] for s in studies]

    @source_call
    async def upsert_sites(self, sites: Sequence[tuple[StudySite, str | None]]) -> list[str | RowError]:
        for site, study_ref in sites:
            ref = self.site_refs[site.id][0] if site.id in self.site_refs else self.ids.new("a3S")
            self.site_refs[site.id] = (ref, study_ref)
        return [self.site_refs[site.id][0] for site, _ in sites]

    # -- reconciliation ----------------------------------------------------------------------------------------
    @source_call
    async def calls_sent_since(self, day: date | None) -> list[Call]:
        return [Call(self._medical(i, c), True, self._identifier_of(c.account_id))
                for i, c in sorted(self.call_records.items()) if c.sent and (day is None or c.date >= day)]

    def _mirrored(self, stored: StoredInteraction) -> MirroredInteraction:
        a = stored.row.activity
        return MirroredInteraction(a.id, stored.id, stored.row.account_id, a.date, a.channel, a.completed, a.subject,
                                   a.owner, a.context.kind)

    @source_call
    async def interactions_since(self, day: date | None) -> list[MirroredInteraction]:
        return sorted((self._mirrored(i) for i in self.interaction_records.values()
                       if day is None or i.row.activity.date >= day), key=lambda m: m.record_id)

    @source_call
    async def interactions(self, activity_ids: Sequence[str]) -> list[MirroredInteraction]:
        return [self._mirrored(self.interaction_records[a]) for a in activity_ids if a in self.interaction_records]

    # -- changes -----------------------------------------------------------------------------------------------
    @source_call
    async def changes_since(self, mark: str | None, limit: int) -> Changes[CallChange]:
        after = _since(mark)
        changed = sorted(((i, c) for i, c in self.call_records.items() if c.modified_at > after),
                         key=lambda t: t[1].modified_at)[:limit]
        return Changes([CallChange(i, c.sent, c.modified_at) for i, c in changed],
                       changed[-1][1].modified_at.isoformat() if changed else None)

    @source_call
    async def deletions_since(self, mark: str | None) -> Changes[str]:
        # The org answers for a window that ends now, and says how far it covered.
        after, now = _since(mark), self.clock.tick()
        return Changes([i for i, at in self.deleted if after < at <= now], now.isoformat())

    # -- metadata ----------------------------------------------------------------------------------------------
    @source_call
    async def account_fields(self) -> set[str]:
        return {"Id", "Name", *self.identifier_fields}

    @source_call
    async def api_versions(self) -> list[str]:
        return list(self.versions)

    @source_call
    async def sign_in(self) -> None:
        self.signed_in = True

    def mirror_fields(self) -> dict[str, str]:
        m = CrmMapping()
        return {"person": m.vci_account, "date": m.vci_date, "channel": m.vci_channel, "completed": m.vci_status,
                "owner": m.vci_owner, "subject": m.vci_subject}


# -- the sources of a process ----------------------------------------------------------------------------------------
@dataclass
class FakeSources:
    """The `Sources` of a test: one fake CTMS, and one fake org per connection name (kept across requests).
    `secrets` are the variables a connection's sign-in reads."""

    clinical: FakeClinical = field(default_factory=FakeClinical)
    orgs: dict[str, FakeCrm] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    closed: bool = False

    def crm(self, name: str) -> FakeCrm:
        """The org of a connection name, made empty the first time it is asked for."""
        return self.orgs.setdefault(name, FakeCrm(name))

    def org(self, row: ConnectionRow) -> Org:
        crm = self.crm(row.name)
        crm.identifier = row.crm_field  # a connection's identifier field can change between requests
        return Org(row.name, crm, row.ctms_field, row.crm_field)

    @asynccontextmanager
    async def trial(self, row: ConnectionRow) -> AsyncIterator[CrmSource]:
        """The org as the connection is configured now, not signed in: its data, knobs and counts are the org's."""
        crm = copy.copy(self.crm(row.name))
        crm.identifier, crm.signed_in = row.crm_field, False
        yield crm

    def missing_secrets(self, row: ConnectionRow) -> list[str]:
        needed = [getattr(row, attr) for attr in NEEDED_VARIABLES[CrmAuth(row.auth_kind)]]
        return [name for name in needed if not name or not self.secrets.get(name)]

    async def close(self) -> None:
        self.closed = True
