"""One CRM org as a `CrmSource`: every SOQL query and record write the gateway makes in that org."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from datasources.crm.client import CrmClient
from datasources.crm.mapping import CrmMapping
from datasources.crm.picklists import channel_to_crm, status_to_crm
from datasources.errors import RowError
from datasources.query import Cmp, Cond, In, Select, chunks
from datasources.sources import Call, CallChange, Changes, Interaction, MirroredInteraction
from datasources.timestamps import SALESFORCE_TIME
from datasources.window import Window, date_range, resume_condition
from domain import Account, ActivityKind, Channel, MedicalActivity, Study, StudySite

EPOCH = "1970-01-01T00:00:00.000Z"
# Salesforce keeps deleted record ids for 30 days; a poll never asks further back than this.
DELETIONS_KEPT = timedelta(days=29)
# Values or ids per IN list: reads for a request, and the larger batches of delivery.
IN_CHUNK = 200
LOOKUP_CHUNK = 300


class OrgSource:
    """One org through its `CrmClient`, matching accounts on `identifier` (the connection's CRM field)."""

    def __init__(self, client: CrmClient, mapping: CrmMapping, connection: str, identifier: str) -> None:
        self.client = client
        self.m = mapping
        self.connection = connection
        self.identifier = identifier

    @property
    def label(self) -> str:
        return f"crm:{self.connection}"

    # -- accounts and calls --------------------------------------------------------------------------------------
    async def accounts_with(self, values: Sequence[str]) -> list[Account]:
        m, field = self.m, self.identifier
        found: list[Account] = []
        for part in chunks(values, IN_CHUNK):
            for rec in await self.client.query(Select(m.account, m.account_fields(field)).filter(In(field, part))):
                found.append(m.account_from(rec, field))
        return found

    def _window_conditions(self, w: Window) -> list[Cond] | None:
        """The conditions of one timeline window; None when the filter wants no medical activity."""
        m, f = self.m, w.filter
        if not f.wants(ActivityKind.MEDICAL):
            return None
        conds: list[Cond] = [Cmp(m.send_to_clinical, "=", True), *date_range(m.call_date, f)]
        if f.channels is not None:
            conds.append(In(m.call_channel, sorted(channel_to_crm(c) for c in f.channels)))
        completed = f.completed_values()
        if completed is not None:
            conds.append(Cmp(m.call_status, "=" if completed[0] else "!=", status_to_crm(True)))
        resume = resume_condition(m.call_date, "Id", w.after, self.label)
        if resume is not None:
            conds.append(resume)
        return conds

    async def activities_for(self, values: Sequence[str], window: Window) -> dict[str, list[MedicalActivity]]:
        m = self.m
        conds = self._window_conditions(window)
        out: dict[str, list[MedicalActivity]] = {}
        if conds is None:
            return out
        rel = m.account_relationship(self.identifier)
        for part in chunks(values, IN_CHUNK):
            sel = Select(m.call, m.call_fields(self.identifier)).filter(In(rel, part), *conds)
            sel.order_by((m.call_date, "DESC"), ("Id", "DESC"))
            if len(part) == 1:
                sel.limit = window.first + 1
            for rec in await self.client.query(sel):
                value = m.call_identifier(rec, self.identifier)
                if value is not None:
                    out.setdefault(value, []).append(m.call_from(rec, self.connection, None))
        return out

    async def calls(self, ids: Sequence[str]) -> list[Call]:
        m = self.m
        found: list[Call] = []
        for part in chunks(ids, LOOKUP_CHUNK):
            for rec in await self.client.query(Select(m.call, m.call_fields(self.identifier)).filter(In("Id", part))):
                found.append(Call(m.call_from(rec, self.connection, None), bool(rec.get(m.send_to_clinical)),
                                  m.call_identifier(rec, self.identifier)))
        return found

    async def log_call(self, *, marker: str, account_id: str, day: date, channel: Channel, completed: bool,
                       subject: str | None, send_to_clinical: bool) -> str:
        fields = self.m.call_record(account_id=account_id, day=day, channel=channel, completed=completed,
                                    subject=subject, send_to_clinical=send_to_clinical)
        return await self.client.upsert(self.m.call, self.m.call_marker, marker, fields)

    async def call_logged_by(self, marker: str) -> str | None:
        recs = await self.client.query(Select(self.m.call, ["Id"]).filter(Cmp(self.m.call_marker, "=", marker)))
        return recs[0]["Id"] if recs else None

    async def send_to_clinical(self, call_id: str) -> None:
        await self.client.update(self.m.call, call_id, {self.m.send_to_clinical: True})

    # -- mirrors of clinical activities --------------------------------------------------------------------------
    async def upsert_interactions(self, rows: Sequence[Interaction]) -> list[str | RowError]:
        m = self.m
        records = [m.interaction_record(r.activity, account_id=r.account_id, context_name=r.context_name,
                                        study_id=r.study_ref, site_id=r.site_ref) for r in rows]
        if len(rows) == 1:
            # One mirror is upserted on its own (a refusal raises SourceRejected, as for the whole batch).
            return [await self.client.upsert(m.interaction, m.vci_external_id, rows[0].activity.id, records[0])]
        keyed = [{m.vci_external_id: r.activity.id, **rec} for r, rec in zip(rows, records, strict=True)]
        return await self.client.upsert_many(m.interaction, m.vci_external_id, keyed) if keyed else []

    async def delete_interactions(self, activity_ids: Sequence[str]) -> dict[str, str]:
        m = self.m
        found: dict[str, str] = {}
        for part in chunks(activity_ids, LOOKUP_CHUNK):
            sel = Select(m.interaction, ["Id", m.vci_external_id]).filter(In(m.vci_external_id, part))
            for rec in await self.client.query(sel):
                found[rec[m.vci_external_id]] = rec["Id"]
        for remote in found.values():
            await self.client.delete(m.interaction, remote)
        return found

    async def upsert_studies(self, studies: Sequence[Study]) -> list[str | RowError]:
        rows = [self.m.study_record(s) for s in studies]
        return await self.client.upsert_many(self.m.clinical_study, self.m.study_external_id, rows) if rows else []

    async def upsert_sites(self, sites: Sequence[tuple[StudySite, str | None]]) -> list[str | RowError]:
        rows = [self.m.site_record(site, study_ref) for site, study_ref in sites]
        return await self.client.upsert_many(self.m.clinical_site, self.m.site_external_id, rows) if rows else []

    # -- reconciliation ----------------------------------------------------------------------------------------
    async def calls_sent_since(self, day: date | None) -> list[Call]:
        m = self.m
        sel = Select(m.call, m.call_fields(self.identifier)).filter(Cmp(m.send_to_clinical, "=", True))
        if day is not None:
            sel.filter(Cmp(m.call_date, ">=", day))
        return [Call(m.call_from(rec, self.connection, None), True, m.call_identifier(rec, self.identifier))
                for rec in await self.client.query(sel.order_by(("Id", "ASC")))]

    async def interactions_since(self, day: date | None) -> list[MirroredInteraction]:
        m = self.m
        sel = Select(m.interaction, m.interaction_fields()).filter(Cmp(m.vci_external_id, "!=", None))
        if day is not None:
            sel.filter(Cmp(m.vci_date, ">=", day))
        return [m.interaction_from(rec) for rec in await self.client.query(sel.order_by(("Id", "ASC")))]

    async def interactions(self, activity_ids: Sequence[str]) -> list[MirroredInteraction]:
        m = self.m
        found: list[MirroredInteraction] = []
        for part in chunks(activity_ids, LOOKUP_CHUNK):
            sel = Select(m.interaction, m.interaction_fields()).filter(In(m.vci_external_id, part))
            found.extend(m.interaction_from(rec) for rec in await self.client.query(sel))
        return found

    # -- changes -------------------------------------------------------------------------------------------------
    async def changes_since(self, mark: str | None, limit: int) -> Changes[CallChange]:
        m = self.m
        sel = Select(m.call, ["Id", m.send_to_clinical, m.modstamp]).filter(
            Cmp(m.modstamp, ">", SALESFORCE_TIME.parse(mark or EPOCH)))
        sel.order_by((m.modstamp, "ASC"))
        sel.limit = limit
        recs = await self.client.query(sel)
        changes = [CallChange(r["Id"], bool(r.get(m.send_to_clinical)), SALESFORCE_TIME.parse_optional(
            r.get(m.modstamp))) for r in recs]
        return Changes(changes, recs[-1][m.modstamp] if recs else None)

    async def deletions_since(self, mark: str | None) -> Changes[str]:
        now = datetime.now(UTC)
        oldest = now - DELETIONS_KEPT
        start = max(SALESFORCE_TIME.parse(mark), oldest) if mark else oldest
        if now <= start:
            return Changes([], None)
        ids, covered = await self.client.deleted_ids(self.m.call, start, now)
        return Changes(ids, covered)

    # -- metadata ------------------------------------------------------------------------------------------------
    async def account_fields(self) -> set[str]:
        meta = await self.client.describe(self.m.account)
        return {f.get("name") for f in meta.get("fields") or [] if isinstance(f, dict) and f.get("name")}

    async def api_versions(self) -> list[str]:
        return await self.client.versions()

    async def sign_in(self) -> None:
        await self.client.credential()

    def mirror_fields(self) -> dict[str, str]:
        m = self.m
        return {"person": m.vci_account, "date": m.vci_date, "channel": m.vci_channel, "completed": m.vci_status,
                "owner": m.vci_owner, "subject": m.vci_subject}
