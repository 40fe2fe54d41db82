"""Per-request loaders: every lookup a request makes is batched into one backend call per source and shape."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date

from datasources.backends import Backends, Org
from datasources.dataloader import DataLoader
from datasources.errors import SourceError
from datasources.query import And, Cmp, Cond, In, Like, Or, Select, chunks
from datasources.record_ids import is_record_id
from domain import (
    Account,
    ActivityKind,
    ClinicalActivity,
    MedicalActivity,
    Person,
    Study,
    StudyCountry,
    StudyPersonnel,
    StudySite,
)
from domain.channels import channel_to_crm
from domain.timeline import Position, Resume, TimelineFilter, item_key, resume_after

IN_CHUNK = 200
CTMS = "ctms"


@dataclass(frozen=True)
class Window:
    """One page request of a timeline: the filter, where to resume, and how many items to return."""

    filter: TimelineFilter
    after: Position | None
    first: int


@dataclass(frozen=True)
class Item:
    """A timeline entry before merging: its ordering key and the domain activity."""

    day: date
    key: str
    activity: ClinicalActivity | MedicalActivity


class Loaders:
    """Create one per request (its caches belong to that request)."""

    def __init__(self, backends: Backends, orgs: Sequence[Org],
                 known_identifiers: MutableMapping[str, dict[str, str | None]] | None = None) -> None:
        self.b = backends
        self.orgs = list(orgs)
        # Identifier values of people seen before (shared across requests): lets a request start its CRM
        # lookups before the person record arrives. Every result is keyed by the value actually used, so a
        # stale entry costs one more lookup, never a wrong answer.
        self.known_identifiers = known_identifiers if known_identifiers is not None else {}
        self.identifier_fields = sorted({o.ctms_field for o in self.orgs})
        m = backends.ctms_map
        self.person = DataLoader[str, Person | None](self._people)
        self.study = DataLoader[str, Study | None](self._by_id(m.study, ["id", "name__v"], m.study_from))
        self.country = DataLoader[str, StudyCountry | None](
            self._by_id(m.study_country, ["id", "name__v", "study__v"], m.country_from))
        self.site = DataLoader[str, StudySite | None](
            self._by_id(m.site, ["id", "name__v", "study__v", "study_country__v"], m.site_from))
        self.personnel = DataLoader[str, StudyPersonnel | None](self._by_id(m.study_person, self._sp_fields(),
                                                                            m.personnel_from))
        self.roles_of_person = DataLoader[str, list[StudyPersonnel]](
            self._children(m.study_person, "person__clin", self._sp_fields(), m.personnel_from))
        self.countries_of_study = DataLoader[str, list[StudyCountry]](
            self._children(m.study_country, "study__v", ["id", "name__v", "study__v"], m.country_from))
        self.sites_of_study = DataLoader[str, list[StudySite]](
            self._children(m.site, "study__v", ["id", "name__v", "study__v", "study_country__v"], m.site_from))
        self.accounts = {o.name: DataLoader[str, list[Account]](self._accounts_batch(o)) for o in self.orgs}
        self.ctms_timeline = DataLoader[tuple[str, Window], list[Item]](self._ctms_timeline)
        self.org_timeline = {o.name: DataLoader[tuple[str, Window], list[Item]](self._org_timeline(o))
                             for o in self.orgs}

    @staticmethod
    def _sp_fields() -> list[str]:
        return ["id", "person__clin", "study__clin", "site__clin", "team_role__v"]

    # -- CTMS records --------------------------------------------------------------------------------------
    async def _people(self, ids: Sequence[str]) -> list[Person | None]:
        m = self.b.ctms_map
        found: dict[str, Person] = {}
        for part in chunks(_well_formed(ids), IN_CHUNK):
            sel = Select(m.person, m.person_fields(self.identifier_fields)).filter(In("id", part))
            for rec in await self.b.ctms.query(sel):
                found[rec["id"]] = m.person_from(rec, self.identifier_fields)
        for person in found.values():
            self.known_identifiers[person.id] = person.identifiers
        return [found.get(i) for i in ids]

    def _by_id(self, obj: str, fields: list[str], convert):  # noqa: ANN001, ANN202
        async def batch(ids: Sequence[str]) -> list:
            found = {}
            for part in chunks(_well_formed(ids), IN_CHUNK):
                for rec in await self.b.ctms.query(Select(obj, fields).filter(In("id", part))):
                    found[rec["id"]] = convert(rec)
            return [found.get(i) for i in ids]
        return batch

    def _children(self, obj: str, parent_field: str, fields: list[str], convert):  # noqa: ANN001, ANN202
        async def batch(parents: Sequence[str]) -> list[list]:
            found: dict[str, list] = defaultdict(list)
            for part in chunks(parents, IN_CHUNK):
                sel = Select(obj, [*fields, parent_field]).filter(In(parent_field, part)).order_by(("name__v", "ASC"))
                for rec in await self.b.ctms.query(sel):
                    found[rec[parent_field]].append(convert(rec))
            return [found.get(p, []) for p in parents]
        return batch

    async def search_people(self, text: str | None, after_id: str | None, limit: int) -> list[Person]:
        m = self.b.ctms_map
        sel = Select(m.person, m.person_fields(self.identifier_fields)).order_by(("id", "ASC"))
        if text:
            sel.filter(Or([Like(m.first_name, text), Like(m.last_name, text), Like(m.email, text),
                           Like("name__v", text)]))
        if after_id:
            sel.filter(Cmp("id", ">", after_id))
        sel.limit = limit
        people = [m.person_from(rec, self.identifier_fields) for rec in (await self.b.ctms.query(sel))[:limit]]
        for p in people:
            self.person.prime(p.id, p)
            self.known_identifiers[p.id] = p.identifiers
        return people

    async def search_studies(self, text: str | None, after_id: str | None, limit: int) -> list[Study]:
        m = self.b.ctms_map
        sel = Select(m.study, ["id", "name__v"]).order_by(("id", "ASC"))
        if text:
            sel.filter(Like("name__v", text))
        if after_id:
            sel.filter(Cmp("id", ">", after_id))
        sel.limit = limit
        studies = [m.study_from(rec) for rec in (await self.b.ctms.query(sel))[:limit]]
        for s in studies:
            self.study.prime(s.id, s)
        return studies

    # -- CRM accounts --------------------------------------------------------------------------------------
    def _accounts_batch(self, org: Org):  # noqa: ANN202
        async def batch(values: Sequence[str]) -> list[list[Account]]:
            m = self.b.crm_map
            found: dict[str, list[Account]] = defaultdict(list)
            for part in chunks(values, IN_CHUNK):
                sel = Select(m.account, m.account_fields(org.crm_field)).filter(In(org.crm_field, part))
                for rec in await org.client.query(sel):
                    acc = m.account_from(rec, org.crm_field)
                    if acc.identifier is not None:
                        found[acc.identifier].append(acc)
            return [sorted(found.get(v, []), key=lambda a: a.id) for v in values]
        return batch

    # -- timelines -----------------------------------------------------------------------------------------
    async def _ctms_timeline(self, keys: Sequence[tuple[str, Window]]) -> list[list[Item] | BaseException]:
        return await _grouped(keys, self._ctms_window)

    async def _ctms_window(self, person_ids: list[str], w: Window) -> dict[str, list[Item]]:
        m = self.b.ctms_map
        f = w.filter
        kinds: list[Cond] = []
        if f.wants(ActivityKind.CLINICAL):
            kinds.append(Cmp("object_type__v", "=", m.clinical_type))
        # Medical activities come from their org while it is connected; the CTMS copy only for other orgs.
        if f.wants(ActivityKind.MEDICAL):
            kinds.append(And([Cmp("object_type__v", "=", m.medical_type),
                              *[Cmp(m.act_org, "!=", o.name) for o in self.orgs]]))
        if not kinds:
            return {}
        conds: list[Cond] = [Or(kinds) if len(kinds) > 1 else kinds[0]]
        conds += _date_conds(m.act_date, f)
        if f.channels is not None:
            conds.append(In(m.act_channel, sorted(m.channel_value(c) for c in f.channels)))
        completed = f.completed_values()
        if completed is not None:
            conds.append(Cmp(m.act_completed, "=", completed[0]))
        resume = _resume(m.act_date, "id", w.after, CTMS)
        if resume is not None:
            conds.append(resume)
        out: dict[str, list[Item]] = defaultdict(list)
        for part in chunks(person_ids, IN_CHUNK):
            sel = Select(m.activity, m.activity_fields()).filter(In(m.act_person, part), *conds)
            sel.order_by((m.act_date, "DESC"), ("id", "DESC"))
            if len(part) == 1:
                sel.limit = w.first + 1
            for rec in await self.b.ctms.query(sel):
                act = m.medical_from(rec) if m.is_medical(rec) else m.clinical_from(rec)
                out[rec[m.act_person]].append(Item(act.date, item_key(CTMS, rec["id"]), act))
        return out

    def _org_timeline(self, org: Org):  # noqa: ANN202
        async def batch(keys: Sequence[tuple[str, Window]]) -> list[list[Item] | BaseException]:
            async def window(values: list[str], w: Window) -> dict[str, list[Item]]:
                return await self._org_window(org, values, w)
            return await _grouped(keys, window)
        return batch

    async def _org_window(self, org: Org, values: list[str], w: Window) -> dict[str, list[Item]]:
        """Calls sent to Clinical, keyed by the account identifier value they were found under."""
        m = self.b.crm_map
        f = w.filter
        if not f.wants(ActivityKind.MEDICAL):
            return {}
        rel = m.account_relationship(org.crm_field)
        conds: list[Cond] = [Cmp(m.send_to_clinical, "=", True), *_date_conds(m.call_date, f)]
        if f.channels is not None:
            conds.append(In(m.call_channel, sorted(channel_to_crm(c) for c in f.channels)))
        completed = f.completed_values()
        if completed is not None:
            conds.append(Cmp(m.call_status, "=", "Submitted_vod") if completed[0]
                         else Cmp(m.call_status, "!=", "Submitted_vod"))
        resume = _resume(m.call_date, "Id", w.after, org.source)
        if resume is not None:
            conds.append(resume)
        out: dict[str, list[Item]] = defaultdict(list)
        for part in chunks(values, IN_CHUNK):
            sel = Select(m.call, m.call_fields(org.crm_field)).filter(In(rel, part), *conds)
            sel.order_by((m.call_date, "DESC"), ("Id", "DESC"))
            if len(part) == 1:
                sel.limit = w.first + 1
            for rec in await org.client.query(sel):
                value = m.call_identifier(rec, org.crm_field)
                if value is None:
                    continue
                act = m.call_from(rec, org.name, None)
                out[value].append(Item(act.date, item_key(org.source, rec["Id"]), act))
        return out


def _well_formed(ids: Sequence[str]) -> list[str]:
    """The ids worth asking for: one that is not a record id finds nothing, and is never sent."""
    return [i for i in ids if is_record_id(i)]


def _date_conds(field: str, f: TimelineFilter) -> list[Cond]:
    conds: list[Cond] = []
    if f.date_from is not None:
        conds.append(Cmp(field, ">=", f.date_from))
    if f.date_to is not None:
        conds.append(Cmp(field, "<=", f.date_to))
    return conds


def _resume(date_field: str, id_field: str, after: Position | None, source: str) -> Cond | None:
    how, record_id = resume_after(after, source)
    if how is Resume.ALL or after is None:
        return None
    if how is Resume.BEFORE_DATE:
        return Cmp(date_field, "<", after.date)
    if how is Resume.THROUGH_DATE:
        return Cmp(date_field, "<=", after.date)
    same_day = And([Cmp(date_field, "=", after.date), Cmp(id_field, "<", record_id)])
    return Or([Cmp(date_field, "<", after.date), same_day])


async def _grouped(keys: Sequence[tuple[str, Window]], run) -> list[list[Item] | BaseException]:  # noqa: ANN001
    """Group keys by window, run one batch per window concurrently, and hand each key its items."""
    by_window: dict[Window, list[str]] = defaultdict(list)
    for subject, w in keys:
        by_window[w].append(subject)
    windows = list(by_window)
    results = await asyncio.gather(*(run(by_window[w], w) for w in windows), return_exceptions=True)
    per_window = dict(zip(windows, results, strict=True))
    out: list[list[Item] | BaseException] = []
    for subject, w in keys:
        res = per_window[w]
        if isinstance(res, BaseException):
            out.append(res if isinstance(res, SourceError | Exception) else RuntimeError(str(res)))
        else:
            out.append(res.get(subject, []))
    return out
