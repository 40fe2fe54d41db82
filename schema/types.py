"""The object types of the contract; each wraps a domain object and asks resolvers for what it reaches."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

import domain as d
from domain.permissions import Permission as P
from resolvers import accounts as accounts_resolver
from resolvers import sync as sync_resolver
from resolvers import timeline as timeline_resolver
from resolvers.connections import ConnectionRow, field_mappings
from resolvers.errors import NotFound
from resolvers.ids import to_global
from schema.access import requires
from schema.context import rc, record_failures
from schema.enums import (
    ActivityKind,
    ActivityStatus,
    Channel,
    ConnectionCheck,
    CrmAuth,
    FieldKind,
    Permission,
    SourceSystem,
    SyncState,
)
from schema.inputs import TimelineFilter
from schema.lean import without_info
from schema.prefetch import selects


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: list[str], has_next: bool, has_previous: bool) -> PageInfo:
        return cls(has_next_page=has_next, has_previous_page=has_previous,
                   start_cursor=cursors[0] if cursors else None, end_cursor=cursors[-1] if cursors else None)


@strawberry.type
class IdentifierMapping:
    ctms_field: str
    crm_field: str
    ctms_field_kind: FieldKind
    crm_field_kind: FieldKind


@strawberry.type
class FieldMapping:
    ctms_label: str
    ctms_field: str
    crm_label: str
    crm_field: str
    description: str


@strawberry.type(description="How a connection signs in: the grant, and the names of the gateway's environment "
                              "variables holding its secrets (the secrets themselves are never stored or shown).")
class ConnectionAuth:
    kind: CrmAuth
    client_id_env: str
    client_secret_env: str | None
    username_env: str | None
    password_env: str | None
    private_key_env: str | None
    jwt_subject: str | None
    jwt_audience: str | None


@strawberry.type
class ConnectionCheckResult:
    name: ConnectionCheck
    ok: bool
    message: str = strawberry.field(description="Why, in the gateway's words (never the backend's).")


@strawberry.type
class Connection(Node):
    row: strawberry.Private[ConnectionRow]
    name: str = ""  # the row's, set on creation: a plain field costs less to read than a resolver (every sync entry)

    def __post_init__(self) -> None:
        self.name = self.row.name

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global("Connection", self.row.name))

    @strawberry.field(extensions=requires(P.CONNECTION_ADMIN))
    async def enabled(self) -> bool:
        return self.row.enabled

    @strawberry.field(extensions=requires(P.CONNECTION_ADMIN))
    async def crm_url(self) -> str:
        return self.row.crm_url

    @strawberry.field(extensions=requires(P.CONNECTION_ADMIN))
    async def api_version(self) -> str:
        return self.row.api_version

    @strawberry.field(extensions=requires(P.CONNECTION_ADMIN))
    async def auth(self) -> ConnectionAuth:
        r = self.row
        return ConnectionAuth(kind=CrmAuth(r.auth_kind), client_id_env=r.client_id_env,
                              client_secret_env=r.client_secret_env, username_env=r.username_env,
                              password_env=r.password_env, private_key_env=r.private_key_env,
                              jwt_subject=r.jwt_subject, jwt_audience=r.jwt_audience)

    @strawberry.field(extensions=requires(P.CONNECTION_ADMIN))
    async def identifier(self) -> IdentifierMapping:
        r = self.row
        return IdentifierMapping(ctms_field=r.ctms_field, crm_field=r.crm_field,
                                 ctms_field_kind=FieldKind(r.ctms_field_kind),
                                 crm_field_kind=FieldKind(r.crm_field_kind))

    @strawberry.field(extensions=requires(P.CONNECTION_ADMIN))
    async def field_mappings(self, info: Info) -> list[FieldMapping]:
        return [FieldMapping(**m) for m in field_mappings(rc(info), self.row)]

    @strawberry.field(description="Mirrors waiting for delivery.", extensions=requires(P.CONNECTION_ADMIN))
    async def pending(self, info: Info) -> int:
        return (await rc(info).mirror_counts()).get(self.row.name, {}).get(SyncState.PENDING, 0)

    @strawberry.field(description="Mirrors that failed for good (retryable with retrySync).",
                      extensions=requires(P.CONNECTION_ADMIN))
    async def failed(self, info: Info) -> int:
        return (await rc(info).mirror_counts()).get(self.row.name, {}).get(SyncState.FAILED, 0)


@strawberry.type
class CrmAccount:
    connection: Connection
    account_id: strawberry.ID
    name: str


@strawberry.type
class SyncStatus:
    connection: Connection | None
    state: SyncState
    remote_id: strawberry.ID | None
    attempts: int
    last_error: str | None
    updated_at: datetime


@strawberry.type
class Study(Node):
    study: strawberry.Private[d.Study]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global("Study", self.study.id))

    @strawberry.field
    def ctms_id(self) -> strawberry.ID:
        return strawberry.ID(self.study.id)

    @strawberry.field
    def name(self) -> str:
        return self.study.name

    @strawberry.field
    async def countries(self, info: Info) -> list[StudyCountry]:
        return [StudyCountry(country=c) for c in await rc(info).loaders.countries_of_study.load(self.study.id)]

    @strawberry.field
    async def sites(self, info: Info) -> list[StudySite]:
        return [StudySite(site=x) for x in await rc(info).loaders.sites_of_study.load(self.study.id)]


async def _study(info: Info, study_id: str) -> Study:
    study = await rc(info).loaders.study.load(study_id)
    if study is None:
        raise NotFound(f"study {study_id} not found in the CTMS")
    return Study(study=study)


@strawberry.type
class StudyCountry(Node):
    country: strawberry.Private[d.StudyCountry]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global("StudyCountry", self.country.id))

    @strawberry.field
    def ctms_id(self) -> strawberry.ID:
        return strawberry.ID(self.country.id)

    @strawberry.field
    def name(self) -> str:
        return self.country.name

    @strawberry.field
    async def study(self, info: Info) -> Study:
        return await _study(info, self.country.study_id)


@strawberry.type
class StudySite(Node):
    site: strawberry.Private[d.StudySite]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global("StudySite", self.site.id))

    @strawberry.field
    def ctms_id(self) -> strawberry.ID:
        return strawberry.ID(self.site.id)

    @strawberry.field
    def name(self) -> str:
        return self.site.name

    @strawberry.field
    async def study(self, info: Info) -> Study:
        return await _study(info, self.site.study_id)


@strawberry.type
class StudyPersonnel(Node):
    personnel: strawberry.Private[d.StudyPersonnel]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global("StudyPersonnel", self.personnel.id))

    @strawberry.field
    def ctms_id(self) -> strawberry.ID:
        return strawberry.ID(self.personnel.id)

    @strawberry.field
    async def person(self, info: Info) -> Person:
        return await person_by_id(info, self.personnel.person_id)

    @strawberry.field
    async def study(self, info: Info) -> Study:
        return await _study(info, self.personnel.study_id)

    @strawberry.field
    def role(self) -> str | None:
        return self.personnel.role


async def person_by_id(info: Info, person_id: str) -> Person:
    person = await rc(info).loaders.person.load(person_id)
    if person is None:
        raise NotFound(f"person {person_id} not found in the CTMS")
    return Person(person=person)


ActivityContext = Annotated[StudyPersonnel | Study | StudyCountry | StudySite,
                            strawberry.union("ActivityContext")]


@strawberry.interface
class Activity(Node):
    id: strawberry.ID
    kind: ActivityKind
    source: SourceSystem
    date: date
    channel: Channel
    status: ActivityStatus
    owner: str | None = strawberry.field(description='"[First] [Last] ([Email])" of the user who created the record '
                                                     "in its source system.")
    subject: str | None

    @classmethod
    @without_info
    def resolve_type(cls, obj: object, info: object, abstract_type: object) -> str:
        """The concrete type of an item by its class (strawberry's default search costs more per item)."""
        return "ClinicalActivity" if isinstance(obj, ClinicalActivity) else "MedicalActivity"

    @strawberry.field
    async def person(self, info: Info) -> Person:  # overridden by the concrete types
        raise NotImplementedError

    @strawberry.field(description="Where this activity's mirrors stand, one entry per system it is mirrored to.")
    async def sync(self, info: Info) -> list[SyncStatus]:
        raise NotImplementedError


def _sync_field(info: Info, activity: d.ClinicalActivity | d.MedicalActivity,
                states: list[d.SyncStatus] | None) -> Any:
    """An activity's `sync`: the states its timeline read ahead for the whole page (a plain list: no await per item),
    else an awaitable, which GraphQL execution awaits as it would an async resolver's result."""
    if states is not None:
        return [_sync_type(info, s) for s in states]
    return _sync_later(info, activity)


async def _sync_later(info: Info, activity: d.ClinicalActivity | d.MedicalActivity) -> list[SyncStatus]:
    return [_sync_type(info, s) for s in await sync_resolver.sync_of(rc(info), activity)]


def _sync_type(info: Info, s: d.SyncStatus) -> SyncStatus:
    row = rc(info).connection(s.connection) if s.connection else None
    return SyncStatus(connection=Connection(row=row) if row else None, state=s.state,
                      remote_id=strawberry.ID(s.remote_id) if s.remote_id else None, attempts=s.attempts,
                      last_error=s.last_error, updated_at=s.updated_at)


@strawberry.type
class ClinicalActivity(Activity):
    activity: strawberry.Private[d.ClinicalActivity]
    sync_states: strawberry.Private[list[d.SyncStatus] | None] = None

    @classmethod
    def of(cls, a: d.ClinicalActivity, sync_states: list[d.SyncStatus] | None = None) -> ClinicalActivity:
        return cls(activity=a, id=strawberry.ID(to_global("ClinicalActivity", a.id)), kind=ActivityKind.CLINICAL,
                   source=SourceSystem.CTMS, date=a.date, channel=Channel(a.channel), status=ActivityStatus(a.status),
                   owner=a.owner, subject=a.subject, sync_states=sync_states)

    @strawberry.field
    async def person(self, info: Info) -> Person:
        return await person_by_id(info, self.activity.person_id)

    @strawberry.field
    def sync(self, info: Info) -> list[SyncStatus]:
        return _sync_field(info, self.activity, self.sync_states)

    @strawberry.field
    def ctms_id(self) -> strawberry.ID:
        return strawberry.ID(self.activity.id)

    @strawberry.field(description="The Study, Study Country, Study Site or Study Personnel record it is logged "
                                  "against.")
    async def context(self, info: Info) -> ActivityContext:
        loaders, ref = rc(info).loaders, self.activity.context
        kinds = {d.ContextKind.STUDY: (loaders.study, lambda v: Study(study=v)),
                 d.ContextKind.STUDY_COUNTRY: (loaders.country, lambda v: StudyCountry(country=v)),
                 d.ContextKind.STUDY_SITE: (loaders.site, lambda v: StudySite(site=v)),
                 d.ContextKind.STUDY_PERSONNEL: (loaders.personnel, lambda v: StudyPersonnel(personnel=v))}
        loader, wrap = kinds[ref.kind]
        value = await loader.load(ref.id)
        if value is None:
            raise NotFound(f"{ref.kind.value} {ref.id} not found in the CTMS")
        return wrap(value)


@strawberry.type
class MedicalActivity(Activity):
    activity: strawberry.Private[d.MedicalActivity]
    known_person: strawberry.Private[d.Person | None] = None
    sync_states: strawberry.Private[list[d.SyncStatus] | None] = None

    @classmethod
    def of(cls, a: d.MedicalActivity, person: d.Person | None = None,
           sync_states: list[d.SyncStatus] | None = None) -> MedicalActivity:
        return cls(activity=a, known_person=person, id=strawberry.ID(to_global("MedicalActivity", a.call_key)),
                   kind=ActivityKind.MEDICAL, source=SourceSystem.CRM, date=a.date, channel=Channel(a.channel),
                   status=ActivityStatus(a.status), owner=a.owner, subject=a.subject, sync_states=sync_states)

    @strawberry.field
    async def person(self, info: Info) -> Person:
        if self.known_person is not None:
            return Person(person=self.known_person)
        if self.activity.person_id is None:
            raise NotFound("the call's account matches no CTMS person")
        return await person_by_id(info, self.activity.person_id)

    @strawberry.field
    def sync(self, info: Info) -> list[SyncStatus]:
        return _sync_field(info, self.activity, self.sync_states)

    @strawberry.field
    def connection(self, info: Info) -> Connection:
        row = rc(info).connection(self.activity.connection)
        if row is None:
            raise NotFound(f"connection {self.activity.connection} is not configured")
        return Connection(row=row)

    @strawberry.field
    def crm_call_id(self) -> strawberry.ID:
        return strawberry.ID(self.activity.call_id)


def activity_type(a: d.ClinicalActivity | d.MedicalActivity, person: d.Person | None = None,
                  sync_states: list[d.SyncStatus] | None = None) -> Activity:
    if isinstance(a, d.ClinicalActivity):
        return ClinicalActivity.of(a, sync_states)
    return MedicalActivity.of(a, person, sync_states)


@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo


@strawberry.type(description="A person in the CTMS (an investigator or site staff). In a query, the person, its "
                             "accounts and its timeline may be answers the gateway kept for up to its read cache's "
                             "time (CCGW_READ_CACHE_S, off unless set): a change made in a backend directly can take "
                             "that long to show, one made through the gateway or found by its poller shows at once. "
                             "Sync states are always current; mutations and subscriptions always read the backends.")
class Person(Node):
    person: strawberry.Private[d.Person]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global("Person", self.person.id))

    @strawberry.field
    def ctms_id(self) -> strawberry.ID:
        return strawberry.ID(self.person.id)

    @strawberry.field
    def first_name(self) -> str:
        return self.person.first_name

    @strawberry.field
    def last_name(self) -> str:
        return self.person.last_name

    @strawberry.field
    def email(self) -> str | None:
        return self.person.email

    @strawberry.field(description="One entry per enabled connection in which this person matched exactly one account "
                                  "(in a query, as fresh as the read cache allows: see Person).")
    async def accounts(self, info: Info) -> list[CrmAccount]:
        found, failures = await accounts_resolver.matches(rc(info), self.person)
        record_failures(info, failures)
        out = []
        for m in found:
            row = rc(info).connection(m.org.name)
            if m.account is not None and row is not None:
                out.append(CrmAccount(connection=Connection(row=row), account_id=strawberry.ID(m.account.id),
                                      name=m.account.name))
        return out

    @strawberry.field(description="The studies this person works on, and in which role.")
    async def study_roles(self, info: Info) -> list[StudyPersonnel]:
        return [StudyPersonnel(personnel=sp) for sp in await rc(info).loaders.roles_of_person.load(self.person.id)]

    @strawberry.field(description="Clinical and medical activities with this person, merged from all sources, "
                                  "newest first (in a query, as fresh as the read cache allows: see Person).")
    async def timeline(self, info: Info, first: int | None = 20, after: str | None = None,
                       filter: TimelineFilter | None = None) -> ActivityConnection:
        f = filter.to_domain() if filter else d.timeline.TimelineFilter()
        page = await timeline_resolver.timeline(rc(info), self.person, first, after, f)
        record_failures(info, page.failures)
        activities = [i.activity for _, i in page.items]
        states = (await sync_resolver.sync_of_many(rc(info), activities) if selects(info, "edges", "node", "sync")
                  else [None] * len(activities))
        edges = [ActivityEdge(cursor=c, node=activity_type(a, self.person, s))
                 for (c, _), a, s in zip(page.items, activities, states, strict=True)]
        return ActivityConnection(edges=edges, page_info=PageInfo.of([c for c, _ in page.items], page.has_next,
                                                                     page.has_previous))


@strawberry.type
class Viewer:
    name: str
    email: str
    permissions: list[Permission]


@strawberry.type
class PersonEdge:
    cursor: str
    node: Person


@strawberry.type
class PersonConnection:
    edges: list[PersonEdge]
    page_info: PageInfo


@strawberry.type
class StudyEdge:
    cursor: str
    node: Study


@strawberry.type
class StudyConnection:
    edges: list[StudyEdge]
    page_info: PageInfo
