"""Veeva CRM records <-> domain objects. The only code that knows CRM field names; all are configurable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from domain import (
    Account,
    Channel,
    ClinicalActivity,
    MedicalActivity,
    channel_from_crm,
    channel_to_crm,
    completed_from_crm,
    owner_text,
    status_to_crm,
)


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

    def account_fields(self, identifier: str) -> list[str]:
        return ["Id", "Name", identifier]

    def call_fields(self, identifier: str) -> list[str]:
        rel = self.call_account.removesuffix("__c") + "__r" if self.call_account.endswith("__c") else "Account"
        return ["Id", self.call_account, f"{rel}.{identifier}", self.call_date, self.call_status, self.call_channel,
                self.call_subject, self.send_to_clinical, "CreatedBy.FirstName", "CreatedBy.LastName",
                "CreatedBy.Email", "SystemModstamp"]

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
            modified_at=_timestamp(rec.get("SystemModstamp")))

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


def _date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _timestamp(value: object) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)
