"""The CTMS as a `ClinicalSource`: every VQL query and record write the gateway makes in Vault."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar

from datasources.ctms.client import CtmsClient
from datasources.ctms.mapping import CtmsMapping
from datasources.errors import RowError
from datasources.query import And, Cmp, Cond, In, Like, Or, Select, chunks
from datasources.record_ids import is_record_id
from datasources.sources import Changes, ClinicalChanges
from datasources.window import Window, date_range, resume_condition
from domain import (
    ActivityKind,
    ClinicalActivity,
    MedicalActivity,
    NewClinicalActivity,
    Person,
    Study,
    StudyCountry,
    StudyPersonnel,
    StudySite,
)

T = TypeVar("T")
LABEL = "ctms"
EPOCH = "1970-01-01T00:00:00.000Z"
# Ids per IN list: reads for a request, and the larger batches of delivery.
IN_CHUNK = 200
DELIVERY_CHUNK = 500
LOOKUP_CHUNK = 300


class CtmsSource:
    """Vault through one `CtmsClient`, its names from a `CtmsMapping`."""

    label = LABEL

    def __init__(self, client: CtmsClient, mapping: CtmsMapping | None = None) -> None:
        self.client = client
        self.m = mapping or CtmsMapping()

    async def _select(self, obj: str, fields: list[str], ids: Sequence[str], convert: Callable[[dict], T],
                      *, field: str = "id", size: int = IN_CHUNK, order: str | None = None) -> list[T]:
        """Records whose `field` is one of `ids`, an IN list of at most `size` per query."""
        found: list[T] = []
        for part in chunks(ids, size):
            sel = Select(obj, fields).filter(In(field, part))
            if order:
                sel.order_by((order, "ASC"))
            found.extend(convert(rec) for rec in await self.client.query(sel))
        return found

    # -- people, studies and their parts -----------------------------------------------------------------------
    async def people(self, ids: Sequence[str], identifiers: Sequence[str]) -> list[Person]:
        m, fields = self.m, list(identifiers)
        return await self._select(m.person, m.person_fields(fields), _well_formed(ids),
                                  lambda rec: m.person_from(rec, fields))

    async def search_people(self, text: str | None, after_id: str | None, limit: int,
                            identifiers: Sequence[str]) -> list[Person]:
        m, fields = self.m, list(identifiers)
        sel = Select(m.person, m.person_fields(fields)).order_by(("id", "ASC"))
        if text:
            sel.filter(Or([Like(m.first_name, text), Like(m.last_name, text), Like(m.email, text),
                           Like(m.record_name, text)]))
        return [m.person_from(rec, fields) for rec in await self._page(sel, after_id, limit)]

    async def people_with(self, field: str, values: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for part in chunks(values, LOOKUP_CHUNK):
            for rec in await self.client.query(Select(self.m.person, ["id", field]).filter(In(field, part))):
                found.setdefault(str(rec[field]), []).append(rec["id"])
        return found

    async def studies(self, ids: Sequence[str]) -> list[Study]:
        return await self._select(self.m.study, self.m.study_fields(), _well_formed(ids), self.m.study_from)

    async def search_studies(self, text: str | None, after_id: str | None, limit: int) -> list[Study]:
        m = self.m
        sel = Select(m.study, m.study_fields()).order_by(("id", "ASC"))
        if text:
            sel.filter(Like(m.record_name, text))
        return [m.study_from(rec) for rec in await self._page(sel, after_id, limit)]

    async def _page(self, sel: Select, after_id: str | None, limit: int) -> list[dict]:
        if after_id:
            sel.filter(Cmp("id", ">", after_id))
        sel.limit = limit
        return (await self.client.query(sel))[:limit]

    async def countries(self, ids: Sequence[str]) -> list[StudyCountry]:
        return await self._select(self.m.study_country, self.m.country_fields(), _well_formed(ids),
                                  self.m.country_from)

    async def sites(self, ids: Sequence[str]) -> list[StudySite]:
        return await self._select(self.m.site, self.m.site_fields(), _well_formed(ids), self.m.site_from)

    async def personnel(self, ids: Sequence[str]) -> list[StudyPersonnel]:
        return await self._select(self.m.study_person, self.m.personnel_fields(), _well_formed(ids),
                                  self.m.personnel_from)

    async def roles_of(self, person_ids: Sequence[str]) -> list[StudyPersonnel]:
        m = self.m
        return await self._select(m.study_person, m.personnel_fields(), person_ids, m.personnel_from,
                                  field=m.sp_person, order=m.record_name)

    async def countries_of(self, study_ids: Sequence[str]) -> list[StudyCountry]:
        m = self.m
        return await self._select(m.study_country, m.country_fields(), study_ids, m.country_from,
                                  field=m.country_study, order=m.record_name)

    async def sites_of(self, study_ids: Sequence[str]) -> list[StudySite]:
        m = self.m
        return await self._select(m.site, m.site_fields(), study_ids, m.site_from, field=m.site_study,
                                  order=m.record_name)

    # -- activities ----------------------------------------------------------------------------------------------
    def _activity(self, rec: dict) -> ClinicalActivity | MedicalActivity:
        return self.m.medical_from(rec) if self.m.is_medical(rec) else self.m.clinical_from(rec)

    def _window_conditions(self, w: Window, connected: Sequence[str]) -> list[Cond] | None:
        """The conditions of one timeline window; None when the filter leaves nothing to read here."""
        m, f = self.m, w.filter
        kinds: list[Cond] = []
        if f.wants(ActivityKind.CLINICAL):
            kinds.append(Cmp(m.object_type, "=", m.clinical_type))
        if f.wants(ActivityKind.MEDICAL):
            kinds.append(And([Cmp(m.object_type, "=", m.medical_type),
                              *[Cmp(m.act_org, "!=", name) for name in connected]]))
        if not kinds:
            return None
        conds: list[Cond] = [Or(kinds) if len(kinds) > 1 else kinds[0], *date_range(m.act_date, f)]
        if f.channels is not None:
            conds.append(In(m.act_channel, sorted(m.channel_value(c) for c in f.channels)))
        completed = f.completed_values()
        if completed is not None:
            conds.append(Cmp(m.act_completed, "=", completed[0]))
        resume = resume_condition(m.act_date, "id", w.after, self.label)
        if resume is not None:
            conds.append(resume)
        return conds

    async def activities_for(self, person_ids: Sequence[str], window: Window, *, connected: Sequence[str]
                             ) -> dict[str, list[ClinicalActivity | MedicalActivity]]:
        m = self.m
        conds = self._window_conditions(window, connected)
        out: dict[str, list[ClinicalActivity | MedicalActivity]] = {}
        if conds is None:
            return out
        for part in chunks(person_ids, IN_CHUNK):
            sel = Select(m.activity, m.activity_fields()).filter(In(m.act_person, part), *conds)
            sel.order_by((m.act_date, "DESC"), ("id", "DESC"))
            if len(part) == 1:
                sel.limit = window.first + 1
            for rec in await self.client.query(sel):
                out.setdefault(rec[m.act_person], []).append(self._activity(rec))
        return out

    async def clinical(self, ids: Sequence[str]) -> list[ClinicalActivity]:
        m = self.m
        recs = await self._select(m.activity, m.activity_fields(), ids, lambda rec: rec, size=DELIVERY_CHUNK)
        return [m.clinical_from(rec) for rec in recs if not m.is_medical(rec)]

    async def clinical_written_by(self, marker: str) -> ClinicalActivity | None:
        m = self.m
        recs = await self.client.query(Select(m.activity, m.activity_fields()).filter(Cmp(m.act_marker, "=", marker)))
        return m.clinical_from(recs[0]) if recs and not m.is_medical(recs[0]) else None

    async def create_clinical(self, new: NewClinicalActivity, *, owner: str | None, marker: str) -> str | RowError:
        m = self.m
        record = m.clinical_record(person_id=new.person_id, context=new.context, day=new.date, channel=new.channel,
                                   completed=new.completed, subject=new.subject, owner=owner, marker=marker)
        [result] = await self.client.write("POST", m.activity, [record], id_param=m.act_marker)
        return result if isinstance(result, RowError) else result["id"]

    async def update_clinical(self, activity_id: str, changes: ClinicalChanges) -> RowError | None:
        fields = self.m.clinical_changes(day=changes.date, channel=changes.channel, completed=changes.completed,
                                         subject=changes.subject, subject_set=changes.subject_set)
        [result] = await self.client.write("PUT", self.m.activity, [{"id": activity_id, **fields}])
        return result if isinstance(result, RowError) else None

    async def delete_clinical(self, activity_id: str) -> RowError | None:
        [result] = await self.client.write("DELETE", self.m.activity, [{"id": activity_id}])
        return result if isinstance(result, RowError) else None

    async def medical_copy(self, call_key: str) -> MedicalActivity | None:
        m = self.m
        recs = await self.client.query(Select(m.activity, m.activity_fields()).filter(Cmp(m.act_call_key, "=",
                                                                                          call_key)))
        return m.medical_from(recs[0]) if recs else None

    async def upsert_medical(self, calls: Sequence[MedicalActivity]) -> list[str | RowError]:
        records = []
        for call in calls:
            if call.person_id is None:
                raise ValueError(f"call {call.call_key} has no person to be copied under")
            records.append(self.m.medical_record(call, call.person_id))
        if not records:
            return []
        results = await self.client.write("POST", self.m.activity, records, id_param=self.m.act_call_key)
        return [r if isinstance(r, RowError) else r.get("id") for r in results]

    async def delete_medical(self, call_keys: Sequence[str]) -> None:
        m = self.m
        ids = await self._select(m.activity, ["id", m.act_call_key], call_keys, lambda rec: rec["id"],
                                 field=m.act_call_key, size=LOOKUP_CHUNK)
        if ids:
            await self.client.write("DELETE", m.activity, [{"id": i} for i in ids])

    async def changes_since(self, mark: str | None, limit: int) -> Changes[ClinicalActivity]:
        m = self.m
        sel = Select(m.activity, m.activity_fields()).filter(
            Cmp(m.modified, ">", mark or EPOCH), Cmp(m.object_type, "=", m.clinical_type))
        sel.order_by((m.modified, "ASC"))
        sel.limit = limit
        recs = await self.client.query(sel)
        return Changes([m.clinical_from(r) for r in recs], recs[-1][m.modified] if recs else None)

    # -- reconciliation ----------------------------------------------------------------------------------------
    async def clinical_since(self, day: date | None) -> list[ClinicalActivity]:
        m = self.m
        sel = Select(m.activity, m.activity_fields()).filter(Cmp(m.object_type, "=", m.clinical_type))
        if day is not None:
            sel.filter(Cmp(m.act_date, ">=", day))
        return [m.clinical_from(rec) for rec in await self.client.query(sel.order_by(("id", "ASC")))]

    async def medical_copies_since(self, connection: str, day: date | None) -> list[MedicalActivity]:
        m = self.m
        sel = Select(m.activity, m.activity_fields()).filter(Cmp(m.object_type, "=", m.medical_type),
                                                             Cmp(m.act_org, "=", connection))
        if day is not None:
            sel.filter(Cmp(m.act_date, ">=", day))
        return [m.medical_from(rec) for rec in await self.client.query(sel.order_by(("id", "ASC")))]

    async def medical_copies(self, call_keys: Sequence[str]) -> list[MedicalActivity]:
        m = self.m
        recs = await self._select(m.activity, m.activity_fields(), call_keys, lambda rec: rec, field=m.act_call_key,
                                  size=LOOKUP_CHUNK)
        return [m.medical_from(rec) for rec in recs if m.is_medical(rec)]

    async def deletions_since(self, mark: str | None) -> Changes[str]:
        recs = [r for r in await self.client.deleted(self.m.activity, mark)
                if not mark or r["date_deleted"] > mark]
        return Changes([r["id"] for r in recs], recs[-1]["date_deleted"] if recs else None)

    # -- metadata ------------------------------------------------------------------------------------------------
    async def person_fields(self) -> set[str]:
        meta = await self.client.describe(self.m.person)
        return {f.get("name") for f in meta.get("fields") or [] if isinstance(f, dict) and f.get("name")}

    def mirror_fields(self) -> dict[str, str]:
        m = self.m
        return {"person": m.act_person, "date": m.act_date, "channel": m.act_channel,
                "completed": m.act_completed, "owner": m.act_owner, "subject": m.act_subject}


def _well_formed(ids: Sequence[str]) -> list[str]:
    """The ids worth asking for: one that is not a record id finds nothing, and is never sent."""
    return [i for i in ids if is_record_id(i)]
