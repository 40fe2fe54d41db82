"""The small world the resolver tests run in: people matched in two orgs (or not, or twice), a study with its parts,
two connections, and the helpers a test uses to act as a user or let time pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update

from datasources.crm.mapping import EXTERNAL_ID as CRM_EXTERNAL_ID
from datasources.crm.mapping import NPI_NUMBER as CRM_NPI_NUMBER
from datasources.ctms.mapping import EXTERNAL_ID as CTMS_EXTERNAL_ID
from datasources.ctms.mapping import NPI_NUMBER as CTMS_NPI_NUMBER
from datasources.store.models import ConnectionRow, Intent, Mirror, utcnow
from datasources.store.repo import Store
from domain import Channel, ClinicalActivity, ContextKind, ContextRef, MedicalActivity, Person, SyncState, SyncStatus
from domain.permissions import Actor, Permission
from resolvers.clinical_writes import create_clinical
from resolvers.context import RequestContext, Services, build_context
from resolvers.intents import WriteResult
from resolvers.sync import sync_of
from tests.resolvers.fakes import FakeClinical, FakeCrm, FakeSources

TODAY = date(2026, 6, 15)
DAY = date(2026, 6, 1)
ADMIN = Actor("sub-ada", "Ada", "Admin", "ada.admin@ctms.example.com", frozenset(Permission))
CLINICAL_LEAD = Actor("sub-clara", "Clara", "Oswald", "clara.oswald@ctms.example.com",
                      frozenset({Permission.CLINICAL_ACTIVITY_CREATE, Permission.CLINICAL_ACTIVITY_EDIT}))
MAX_ATTEMPTS = 3


def connection(name: str, ctms_field: str, crm_field: str, *, enabled: bool = True) -> ConnectionRow:
    return ConnectionRow(name=name, crm_url=f"https://{name}.crm.example.com", client_id_env="CLIENT_ID",
                         client_secret_env="CLIENT_SECRET", enabled=enabled, ctms_field=ctms_field,
                         ctms_field_kind="STANDARD", crm_field=crm_field, crm_field_kind="STANDARD")


@dataclass
class World:
    """What is seeded: the ids a test refers to."""

    study: str
    site: str
    ada: str  # one account in us (External ID) and one in eu (NPI)
    bo: str  # one account in us; none in eu
    cy: str  # two accounts in us (a CONFLICT); one in eu
    di: str  # no identifier value at all
    accounts: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # org -> person id -> account ids


def seed(sources: FakeSources) -> World:
    ctms, us, eu = sources.clinical, sources.crm("us"), sources.crm("eu")
    study = ctms.add_study("Cardio-1")
    country = ctms.add_country("United States", study)
    site = ctms.add_site("Boston General", study, country)
    people = {
        "ada": ctms.add_person("Ada", "Lovelace", "ada@example.com", **{CTMS_EXTERNAL_ID: "EXT-1",
                                                                       CTMS_NPI_NUMBER: "NPI-1"}),
        "bo": ctms.add_person("Bo", "Chen", "bo@example.com", **{CTMS_EXTERNAL_ID: "EXT-2", CTMS_NPI_NUMBER: "NPI-2"}),
        "cy": ctms.add_person("Cy", "Okafor", None, **{CTMS_EXTERNAL_ID: "EXT-3", CTMS_NPI_NUMBER: "NPI-3"}),
        "di": ctms.add_person("Di", "Rossi", "di@example.com"),
    }
    accounts = {
        "us": {people["ada"]: [us.add_account("Dr Ada Lovelace", **{CRM_EXTERNAL_ID: "EXT-1"})],
               people["bo"]: [us.add_account("Dr Bo Chen", **{CRM_EXTERNAL_ID: "EXT-2"})],
               people["cy"]: [us.add_account("Dr Cy Okafor", **{CRM_EXTERNAL_ID: "EXT-3"}),
                              us.add_account("Cy Okafor MD", **{CRM_EXTERNAL_ID: "EXT-3"})]},
        "eu": {people["ada"]: [eu.add_account("Dr. A. Lovelace", **{CRM_NPI_NUMBER: "NPI-1"})],
               people["cy"]: [eu.add_account("Dr. C. Okafor", **{CRM_NPI_NUMBER: "NPI-3"})]},
    }
    us.add_account("Someone Else", **{CRM_EXTERNAL_ID: "EXT-99"})
    return World(study=study, site=site, accounts=accounts, **people)


@dataclass
class Env:
    """A gateway process over fakes: its services, its sources, and the seeded world."""

    services: Services
    sources: FakeSources
    world: World

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def ctms(self) -> FakeClinical:
        return self.sources.clinical

    def org(self, name: str) -> FakeCrm:
        return self.sources.crm(name)

    async def ctx(self, actor: Actor = ADMIN) -> RequestContext:
        """A new request's context, acting as `actor`."""
        return await build_context(self.services, actor)

    async def person(self, person_id: str, actor: Actor = ADMIN) -> Person:
        found = await (await self.ctx(actor)).loaders.person.load(person_id)
        assert found is not None, person_id
        return found

    async def save_connection(self, row: ConnectionRow) -> None:
        await self.store.save_connection(row)
        self.services.forget_connections()

    async def mirrors(self, kind: str, source_id: str) -> dict[str, Mirror]:
        """The mirrors of one source record, by target."""
        [rows] = await self.store.mirrors_of(kind, [source_id])
        return {m.target: m for m in rows}

    async def states(self, kind: str, source_id: str) -> dict[str, SyncState]:
        return {target: m.state for target, m in (await self.mirrors(kind, source_id)).items()}

    async def intents(self) -> list[Intent]:
        async with self.store.session() as s:
            return list((await s.execute(select(Intent).order_by(Intent.created_at))).scalars())

    async def time_passes(self) -> None:
        """Every retry scheduled for later is due now (the backoff has run out)."""
        async with self.store.session() as s:
            await s.execute(update(Mirror).where(Mirror.state == SyncState.PENDING).values(next_attempt_at=utcnow()))
            await s.commit()

    async def create(self, person_id: str, *, key: str | None = None, actor: Actor = ADMIN, day: date = DAY,
                     subject: str | None = "Enrollment update") -> WriteResult:
        """createClinicalActivity at the seeded site, as one request."""
        return await create_clinical(await self.ctx(actor), person_id=person_id, contexts=self.site_context(),
                                     day=day, channel=Channel.PHONE, completed=True, subject=subject,
                                     idempotency_key=key)

    async def sync(self, activity: ClinicalActivity | MedicalActivity) -> dict[str | None, SyncStatus]:
        """Where the activity's mirrors stand, as the API shows it (by connection name; None for the CTMS)."""
        return {s.connection: s for s in await sync_of(await self.ctx(), activity)}

    def site_context(self) -> dict[ContextKind, str | None]:
        """The `contexts` argument of a create logged against the seeded site."""
        return {ContextKind.STUDY: None, ContextKind.STUDY_COUNTRY: None, ContextKind.STUDY_SITE: self.world.site,
                ContextKind.STUDY_PERSONNEL: None}

    def site_ref(self) -> ContextRef:
        return ContextRef(ContextKind.STUDY_SITE, self.world.site)
