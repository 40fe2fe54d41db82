"""The root Query."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.permissions import Permission as P
from resolvers import admin_lists, reconcile_jobs
from resolvers import people as people_resolver
from resolvers.access import allowed
from resolvers.errors import BadInput
from resolvers.ids import from_global, raw_id
from resolvers.paging import check_first
from schema.access import requires
from schema.admin import (
    AuditEntry,
    AuditEntryConnection,
    AuditEntryEdge,
    ConnectionBacklog,
    FailedMirror,
    FailedMirrorConnection,
    FailedMirrorEdge,
    audit_entry,
)
from schema.context import rc
from schema.enums import Permission
from schema.lookup import activity_node
from schema.prefetch import prefetch_person
from schema.reconcile import ReconcileJob
from schema.types import (
    Connection,
    Node,
    PageInfo,
    Person,
    PersonConnection,
    PersonEdge,
    Study,
    StudyConnection,
    StudyCountry,
    StudyEdge,
    StudyPersonnel,
    StudySite,
    Viewer,
)


async def find_node(info: Info, id: str) -> Node | None:
    """The object behind a global id (None when it does not exist, or may not be seen); `node` and `_entities`."""
    decoded = from_global(id)
    if decoded is None:
        raise BadInput(f"id: {id[:60]!r} is not a valid node id", field="id")
    type_name, raw = decoded
    ctx = rc(info)
    loaders = ctx.loaders
    if type_name == "Person":
        p = await loaders.person.load(raw)
        return Person(person=p) if p else None
    if type_name == "Study":
        s = await loaders.study.load(raw)
        return Study(study=s) if s else None
    if type_name == "StudyCountry":
        c = await loaders.country.load(raw)
        return StudyCountry(country=c) if c else None
    if type_name == "StudySite":
        x = await loaders.site.load(raw)
        return StudySite(site=x) if x else None
    if type_name == "StudyPersonnel":
        sp = await loaders.personnel.load(raw)
        return StudyPersonnel(personnel=sp) if sp else None
    if type_name == "Connection":
        row = ctx.connection(raw)
        return Connection(row=row) if row else None
    if type_name in ("ClinicalActivity", "MedicalActivity"):
        if type_name == "MedicalActivity" and not allowed(ctx, P.MEDICAL_ACTIVITY_VIEW):
            return None  # without the permission a medical activity does not exist
        return await activity_node(info, type_name, raw)
    raise BadInput(f"id: unknown node type {type_name}", field="id")


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await find_node(info, id)

    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        actor = rc(info).actor
        return Viewer(name=actor.name, email=actor.email,
                      permissions=[Permission(p) for p in sorted(actor.permissions, key=lambda p: p.value)])

    @strawberry.field
    async def person(self, info: Info, id: strawberry.ID) -> Person | None:
        person_id = raw_id(id, "Person")
        prefetch_person(info, person_id)
        p = await rc(info).loaders.person.load(person_id)
        return Person(person=p) if p else None

    @strawberry.field(description="People in the CTMS; `search` matches name or email, case-insensitive.")
    async def people(self, info: Info, search: str | None = None, first: int | None = 20,
                     after: str | None = None) -> PersonConnection:
        page = await people_resolver.people(rc(info), search, first, after)
        return PersonConnection(edges=[PersonEdge(cursor=c, node=Person(person=p)) for c, p in page.items],
                                page_info=PageInfo.of([c for c, _ in page.items], page.has_next, page.has_previous))

    @strawberry.field(description="Studies in the CTMS; `search` matches the name, case-insensitive.")
    async def studies(self, info: Info, search: str | None = None, first: int | None = 20,
                      after: str | None = None) -> StudyConnection:
        page = await people_resolver.studies(rc(info), search, first, after)
        return StudyConnection(edges=[StudyEdge(cursor=c, node=Study(study=s)) for c, s in page.items],
                               page_info=PageInfo.of([c for c, _ in page.items], page.has_next, page.has_previous))

    @strawberry.field(description="The append-only audit trail of mutations, newest first (admin).",
                      extensions=requires(P.CONNECTION_ADMIN))
    async def audit_log(self, info: Info, first: int | None = 50) -> list[AuditEntry]:
        ctx = rc(info)
        rows = await ctx.store.audit_log(check_first(first, default=50))
        return [audit_entry(r) for r in rows]

    @strawberry.field(description="The audit trail as pages, newest first, of the users whose `sub (email)` contains "
                                  "`user` (any case) and of the operation `action` (such as retrySync) (admin).",
                      extensions=requires(P.CONNECTION_ADMIN))
    async def audit_entries(self, info: Info, first: int | None = 50, after: str | None = None,
                            user: str | None = None, action: str | None = None) -> AuditEntryConnection:
        page = await admin_lists.audit_entries(rc(info), first, after, user, action)
        return AuditEntryConnection(
            edges=[AuditEntryEdge(cursor=c, node=audit_entry(r)) for c, r in page.items],
            page_info=PageInfo.of([c for c, _ in page.items], page.has_next, page.has_previous))

    @strawberry.field(description="Mirrors that FAILED for good, newest first; of one connection when given "
                                  "(admin).", extensions=requires(P.CONNECTION_ADMIN))
    async def failed_mirrors(self, info: Info, first: int | None = 20, after: str | None = None,
                             connection_id: strawberry.ID | None = None) -> FailedMirrorConnection:
        page = await admin_lists.failed(rc(info), first, after, connection_id)
        return FailedMirrorConnection(
            edges=[FailedMirrorEdge(cursor=c, node=FailedMirror(row=r)) for c, r in page.items],
            page_info=PageInfo.of([c for c, _ in page.items], page.has_next, page.has_previous))

    @strawberry.field(description="The outbox per connection and direction: mirrors pending and FAILED, and how long "
                                  "the oldest pending one has waited (admin).", extensions=requires(P.CONNECTION_ADMIN))
    async def backlog(self, info: Info) -> list[ConnectionBacklog]:
        return [ConnectionBacklog(entry=b) for b in await admin_lists.connection_backlog(rc(info))]

    @strawberry.field(description="A reconciliation job started by `reconcile` or `ccgw reconcile`: its progress "
                                  "and summary (admin).", extensions=requires(P.CONNECTION_ADMIN))
    async def reconcile_job(self, info: Info, id: strawberry.ID) -> ReconcileJob | None:
        job = await reconcile_jobs.find_job(rc(info), id)
        return ReconcileJob(job=job) if job else None

    @strawberry.field(description="The connections to CRM orgs; their details need CONNECTION_ADMIN.")
    def connections(self, info: Info) -> list[Connection]:
        return [Connection(row=row) for row in rc(info).connections]
