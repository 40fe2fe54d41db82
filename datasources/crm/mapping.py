"""Veeva CRM records <-> domain objects. The only code that knows CRM field names; all are configurable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from datasources.crm.picklists import channel_from_crm, channel_to_crm, completed_from_crm, status_to_crm
from datasources.sources import MirroredInteraction
from datasources.timestamps import SALESFORCE_TIME
from domain import Account, Channel, ClinicalActivity, ContextKind, MedicalActivity, Study, StudySite, owner_text

T = TypeVar("T")

# The account identifier fields of the stand-in that connections match on: Veeva's standard external id, and a
# custom NPI number (docs/data-model.md).
EXTERNAL_ID = "External_ID_vod__c"
NPI_NUMBER = "NPI_Number__c"
# Salesforce's Name field is text(80).
NAME_MAX = 80


def field_kind(name: str) -> str:
    """A Salesforce field is custom when it ends in __c, except Veeva's own `_vod__c` fields, which are standard."""
    return "CUSTOM" if name.endswith("__c") and not name.endswith("_vod__c") else "STANDARD"


@dataclass(frozen=True)
class CrmMapping:
    """Object and field API names on the CRM side (defaults: the stand-in's, see docs/data-model.md)."""

    account: str = "Account"
    call: str = "Call2_vod__c"
    interaction: str = "Vault_Clinical_Interaction_vod__c"
    clinical_study: str = "Clinical_Study_vod__c"
    clinical_site: str = "Clinical_Site_vod__c"
    call_account: str = "Account_vod__c"
    call_date: str = "Call_Date_vod__c"
    call_status: str = "Status_vod__c"
    call_channel: str = "Call_Channel_vod__c"
    call_subject: str = "Subject_vod__c"
    send_to_clinical: str = "Send_To_Vault_Clinical_vod__c"
    call_marker: str = "Gateway_Request_Id__c"
    vci_account: str = "Account_vod__c"
    vci_date: str = "Interaction_Date_vod__c"
    vci_status: str = "Status_vod__c"
    vci_channel: str = "Channel_vod__c"
    vci_subject: str = "Subject_vod__c"
    vci_owner: str = "Owner_Text_vod__c"
    vci_external_id: str = "Vault_Activity_Id_vod__c"
    vci_study: str = "Clinical_Study_vod__c"
    vci_site: str = "Clinical_Site_vod__c"
    vci_context_type: str = "Context_Type_vod__c"
    vci_context_name: str = "Context_Name_vod__c"
    study_external_id: str = "Vault_Study_Id_vod__c"
    site_external_id: str = "Vault_Site_Id_vod__c"
    site_study: str = "Clinical_Study_vod__c"
    modstamp: str = "SystemModstamp"

    def account_fields(self, identifier: str) -> list[str]:
        return ["Id", "Name", identifier]

    def call_fields(self, identifier: str) -> list[str]:
        rel = self.call_account.removesuffix("__c") + "__r" if self.call_account.endswith("__c") else "Account"
        return ["Id", self.call_account, f"{rel}.{identifier}", self.call_date, self.call_status, self.call_channel,
                self.call_subject, self.send_to_clinical, "CreatedBy.FirstName", "CreatedBy.LastName",
                "CreatedBy.Email", self.modstamp]

    def account_relationship(self, identifier: str) -> str:
        """The call's parent field path to the account's identifier, for filtering calls by identifier."""
        rel = self.call_account.removesuffix("__c") + "__r"
        return f"{rel}.{identifier}"

    def account_from(self, rec: dict, identifier: str) -> Account:
        value = rec.get(identifier)
        return Account(rec["Id"], rec.get("Name") or "", None if value in (None, "") else str(value))

    def call_identifier(self, rec: dict, identifier: str) -> str | None:
        parent = rec.get(self.call_account.removesuffix("__c") + "__r") or {}
        value = parent.get(identifier) if isinstance(parent, dict) else None
        return None if value in (None, "") else str(value)

    def call_from(self, rec: dict, connection: str, person_id: str | None) -> MedicalActivity:
        creator = rec.get("CreatedBy") or {}
        return MedicalActivity(
            connection=connection, call_id=rec["Id"], account_id=rec.get(self.call_account) or "",
            person_id=person_id, date=_date(rec[self.call_date]),
            channel=channel_from_crm(rec.get(self.call_channel) or ""),
            completed=completed_from_crm(rec.get(self.call_status) or ""), subject=rec.get(self.call_subject),
            owner=owner_text(creator.get("FirstName"), creator.get("LastName"), creator.get("Email"))
            if isinstance(creator, dict) else None,
            modified_at=SALESFORCE_TIME.parse_optional(rec.get(self.modstamp)))

    def call_record(self, *, account_id: str, day: date, channel: Channel, completed: bool, subject: str | None,
                    send_to_clinical: bool) -> dict:
        return {self.call_account: account_id, self.call_date: day.isoformat(),
                self.call_status: status_to_crm(completed), self.call_channel: channel_to_crm(channel),
                self.call_subject: subject, self.send_to_clinical: send_to_clinical}

    def interaction_record(self, activity: ClinicalActivity, *, account_id: str, context_name: str | None,
                           study_id: str | None, site_id: str | None) -> dict:
        """The Vault Clinical Interaction mirror of a clinical activity (upserted by the CTMS activity id)."""
        return {self.vci_account: account_id, self.vci_date: activity.date.isoformat(),
                self.vci_status: status_to_crm(activity.completed), self.vci_channel: channel_to_crm(activity.channel),
                self.vci_subject: activity.subject, self.vci_owner: activity.owner,
                self.vci_study: study_id, self.vci_site: site_id,
                self.vci_context_type: activity.context.kind.value, self.vci_context_name: context_name}

    def interaction_fields(self) -> list[str]:
        return ["Id", self.vci_external_id, self.vci_account, self.vci_date, self.vci_status, self.vci_channel,
                self.vci_subject, self.vci_owner, self.vci_context_type]

    def interaction_from(self, rec: dict) -> MirroredInteraction:
        """An interaction read back; a value no activity could have (an unknown picklist value) reads as None."""
        return MirroredInteraction(
            activity_id=str(rec[self.vci_external_id]), record_id=rec["Id"], account_id=rec.get(self.vci_account),
            date=_optional(_date, rec.get(self.vci_date)),
            channel=_optional(channel_from_crm, rec.get(self.vci_channel)),
            completed=_optional(completed_from_crm, rec.get(self.vci_status)), subject=rec.get(self.vci_subject),
            owner=rec.get(self.vci_owner), context=_optional(ContextKind, rec.get(self.vci_context_type)))

    def study_record(self, study: Study) -> dict:
        """The org's Clinical Study record of a CTMS study (upserted by the study id)."""
        return {self.study_external_id: study.id, "Name": study.name[:NAME_MAX]}

    def site_record(self, site: StudySite, study_ref: str | None) -> dict:
        """The org's Clinical Site record of a CTMS site (upserted by the site id), under its Clinical Study."""
        return {self.site_external_id: site.id, "Name": site.name[:NAME_MAX], self.site_study: study_ref}


def _date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _optional(read: Callable[[Any], T], value: object) -> T | None:
    """`read(value)`, or None when there is no value or it is not one `read` knows."""
    if value in (None, ""):
        return None
    try:
        return read(value)
    except ValueError:
        return None

