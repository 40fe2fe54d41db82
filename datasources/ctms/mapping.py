"""Vault records <-> domain objects. The only code that knows CTMS field names; all are configurable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from datasources.timestamps import VAULT_TIME
from domain import (
    Channel,
    ClinicalActivity,
    ContextKind,
    ContextRef,
    MedicalActivity,
    Person,
    Study,
    StudyCountry,
    StudyPersonnel,
    StudySite,
    channel_from_ctms,
    channel_to_ctms,
)

# The person identifier fields of the stand-in that connections match on: Vault's standard external id, and a
# custom NPI number (docs/data-model.md).
EXTERNAL_ID = "external_id__v"
NPI_NUMBER = "npi_number__c"


def field_kind(name: str) -> str:
    """A Vault field is custom when its API name ends in __c; __v and __sys fields are standard."""
    return "CUSTOM" if name.endswith("__c") else "STANDARD"


@dataclass(frozen=True)
class CtmsMapping:
    """Object and field API names on the Vault side (defaults: the stand-in's, see docs/data-model.md)."""

    user: str = "user__sys"
    person: str = "person__sys"
    study: str = "study__v"
    study_country: str = "study_country__v"
    site: str = "site__v"
    study_person: str = "study_person__clin"
    activity: str = "crm_activity__v"
    clinical_type: str = "clinical_activity__v"
    medical_type: str = "medical_activity__v"
    first_name: str = "first_name__sys"
    last_name: str = "last_name__sys"
    email: str = "email__sys"
    record_name: str = "name__v"
    modified: str = "modified_date__v"
    object_type: str = "object_type__v"
    country_study: str = "study__v"
    site_study: str = "study__v"
    site_country: str = "study_country__v"
    sp_person: str = "person__clin"
    sp_study: str = "study__clin"
    sp_site: str = "site__clin"
    sp_role: str = "team_role__v"
    act_person: str = "person__v"
    act_date: str = "activity_date__v"
    act_channel: str = "channel__v"
    act_completed: str = "completed__v"
    act_subject: str = "subject__v"
    act_owner: str = "owner__v"
    act_org: str = "crm_org__v"
    act_call_id: str = "crm_call_id__v"
    act_call_key: str = "crm_call_key__v"
    act_marker: str = "gateway_request__v"
    context_fields: dict[ContextKind, str] = field(default_factory=lambda: {
        ContextKind.STUDY: "study__v", ContextKind.STUDY_COUNTRY: "study_country__v",
        ContextKind.STUDY_SITE: "site__v", ContextKind.STUDY_PERSONNEL: "study_person__v"})
    channel_values: dict[str, str] = field(default_factory=lambda: {
        "In Person": "in_person__v", "Video": "video__v", "Phone": "phone__v", "Chat/Text": "chat_text__v",
        "Email": "email__v", "Other": "other__v"})

    # -- field lists -------------------------------------------------------------------------------------------
    def person_fields(self, identifiers: list[str]) -> list[str]:
        return ["id", self.first_name, self.last_name, self.email, *identifiers]

    def study_fields(self) -> list[str]:
        return ["id", self.record_name]

    def country_fields(self) -> list[str]:
        return ["id", self.record_name, self.country_study]

    def site_fields(self) -> list[str]:
        return ["id", self.record_name, self.site_study, self.site_country]

    def personnel_fields(self) -> list[str]:
        return ["id", self.sp_person, self.sp_study, self.sp_site, self.sp_role]

    def activity_fields(self) -> list[str]:
        return ["id", self.activity_type_field(), self.modified, self.act_person, *self.context_fields.values(),
                self.act_date, self.act_channel, self.act_completed, self.act_subject, self.act_owner,
                self.act_org, self.act_call_id, self.act_call_key, self.act_marker]

    def activity_type_field(self) -> str:
        return f"{self.object_type}.api_name__v"

    # -- reading -----------------------------------------------------------------------------------------------
    def person_from(self, rec: dict, identifiers: list[str]) -> Person:
        return Person(id=rec["id"], first_name=rec.get(self.first_name) or "", last_name=rec.get(self.last_name) or "",
                      email=rec.get(self.email), identifiers={f: _text(rec.get(f)) for f in identifiers})

    def study_from(self, rec: dict) -> Study:
        return Study(rec["id"], rec.get(self.record_name) or "")

    def country_from(self, rec: dict) -> StudyCountry:
        return StudyCountry(rec["id"], rec.get(self.record_name) or "", rec.get(self.country_study) or "")

    def site_from(self, rec: dict) -> StudySite:
        return StudySite(rec["id"], rec.get(self.record_name) or "", rec.get(self.site_study) or "",
                         rec.get(self.site_country))

    def personnel_from(self, rec: dict) -> StudyPersonnel:
        return StudyPersonnel(rec["id"], rec.get(self.sp_person) or "", rec.get(self.sp_study) or "",
                              rec.get(self.sp_site), rec.get(self.sp_role))

    def is_medical(self, rec: dict) -> bool:
        return _picklist(rec.get(self.activity_type_field())) == self.medical_type

    def channel_from(self, value: object) -> Channel:
        name = _picklist(value)
        for label, picklist_name in self.channel_values.items():
            if picklist_name == name:
                return channel_from_ctms(label)
        raise ValueError(f"unknown CTMS channel value {name!r}")

    def clinical_from(self, rec: dict) -> ClinicalActivity:
        context = next((ContextRef(kind, rec[f]) for kind, f in self.context_fields.items() if rec.get(f)), None)
        if context is None:
            raise ValueError(f"activity {rec.get('id')} has no context")
        return ClinicalActivity(
            id=rec["id"], person_id=rec[self.act_person], context=context, date=_date(rec[self.act_date]),
            channel=self.channel_from(rec.get(self.act_channel)), completed=_bool(rec.get(self.act_completed)),
            subject=rec.get(self.act_subject), owner=rec.get(self.act_owner),
            modified_at=VAULT_TIME.parse_optional(rec.get(self.modified)))

    def medical_from(self, rec: dict) -> MedicalActivity:
        return MedicalActivity(
            connection=rec.get(self.act_org) or "", call_id=rec.get(self.act_call_id) or "", account_id="",
            person_id=rec.get(self.act_person), date=_date(rec[self.act_date]),
            channel=self.channel_from(rec.get(self.act_channel)), completed=_bool(rec.get(self.act_completed)),
            subject=rec.get(self.act_subject), owner=rec.get(self.act_owner), ctms_id=rec["id"],
            modified_at=VAULT_TIME.parse_optional(rec.get(self.modified)))

    # -- writing -----------------------------------------------------------------------------------------------
    def channel_value(self, channel: Channel) -> str:
        return self.channel_values[channel_to_ctms(channel)]

    def clinical_record(self, *, person_id: str, context: ContextRef, day: date, channel: Channel,
                        completed: bool, subject: str | None, owner: str | None, marker: str) -> dict:
        rec = {self.activity_type_field(): self.clinical_type, self.act_person: person_id,
               self.act_date: day.isoformat(), self.act_channel: self.channel_value(channel),
               self.act_completed: completed, self.act_subject: subject, self.act_owner: owner,
               self.act_marker: marker}
        rec[self.context_fields[context.kind]] = context.id
        return rec

    def clinical_changes(self, *, day: date | None, channel: Channel | None, completed: bool | None,
                         subject: str | None, subject_set: bool) -> dict:
        rec: dict = {}
        if day is not None:
            rec[self.act_date] = day.isoformat()
        if channel is not None:
            rec[self.act_channel] = self.channel_value(channel)
        if completed is not None:
            rec[self.act_completed] = completed
        if subject_set:
            rec[self.act_subject] = subject
        return rec

    def medical_record(self, call: MedicalActivity, person_id: str) -> dict:
        """The Medical Activity mirror of a CRM call, upserted by its call key."""
        return {self.activity_type_field(): self.medical_type, self.act_person: person_id,
                self.act_date: call.date.isoformat(), self.act_channel: self.channel_value(call.channel),
                self.act_completed: call.completed, self.act_subject: call.subject, self.act_owner: call.owner,
                self.act_org: call.connection, self.act_call_id: call.call_id, self.act_call_key: call.call_key}


def _picklist(value: object) -> str | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value if isinstance(value, str) else None


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "yes", "yes__v")
    return bool(value)


def _date(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])

