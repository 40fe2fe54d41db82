"""Metadata of the org's sObjects: fields, types, picklists, references and relationship names."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Field", "SObject", "OBJECTS", "object_named", "object_for_id"]

CHANNELS = (("Face_to_face_vod", "In-person"), ("Video_vod", "Video"), ("Phone_vod", "Phone"),
            ("Message_vod", "Chat or Text"), ("Email_vod", "Email"), ("Other_vod", "Other"))


@dataclass(frozen=True)
class Field:
    """One field as describe reports it; `required` means not nillable on create and update."""

    name: str
    label: str
    type: str
    length: int = 0
    required: bool = False
    unique: bool = False
    external_id: bool = False
    picklist: tuple[tuple[str, str], ...] = ()
    restricted: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None
    createable: bool = True
    updateable: bool = True

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def is_text(self) -> bool:
        return self.type in ("string", "textarea", "email", "picklist")

    @property
    def is_id(self) -> bool:
        return self.type in ("id", "reference")


@dataclass
class SObject:
    """An sObject type: name, label, 3-character key prefix, fields by name, and an optional Name autonumber."""

    name: str
    label: str
    prefix: str
    fields: dict[str, Field] = field(default_factory=dict)
    autonumber: str | None = None  # e.g. "C-{:07d}"
    plural: str = ""

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def field_named(self, name: str) -> Field | None:
        """Field by API name, case-insensitively as SOQL and the REST API resolve them."""
        found = self.fields.get(name)
        if found is not None:
            return found
        return self._lower().get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationship name is `name` (case-insensitive)."""
        low = name.lower()
        for f in self.fields.values():
            if f.relationship_name is not None and f.relationship_name.lower() == low:
                return f
        return None

    def _lower(self) -> dict[str, Field]:
        cache = self.__dict__.get("_lower_cache")
        if cache is None:
            cache = {k.lower(): v for k, v in self.fields.items()}
            self.__dict__["_lower_cache"] = cache
        return cache


def _system(name_field: Field) -> list[Field]:
    return [
        Field("Id", "Record ID", "id", 18, createable=False, updateable=False),
        Field("IsDeleted", "Deleted", "boolean", createable=False, updateable=False),
        name_field,
        Field("CreatedDate", "Created Date", "datetime", createable=False, updateable=False),
        Field("CreatedById", "Created By ID", "reference", 18, reference_to="User", relationship_name="CreatedBy",
              createable=False, updateable=False),
        Field("LastModifiedDate", "Last Modified Date", "datetime", createable=False, updateable=False),
        Field("LastModifiedById", "Last Modified By ID", "reference", 18, reference_to="User",
              relationship_name="LastModifiedBy", createable=False, updateable=False),
        Field("SystemModstamp", "System Modstamp", "datetime", createable=False, updateable=False),
        Field("OwnerId", "Owner ID", "reference", 18, reference_to="User", relationship_name="Owner"),
    ]


def _make(name: str, label: str, plural: str, prefix: str, name_field: Field, extra: list[Field],
          autonumber: str | None = None) -> SObject:
    obj = SObject(name, label, prefix, autonumber=autonumber, plural=plural)
    for f in _system(name_field) + extra:
        obj.fields[f.name] = f
    return obj


def _ref(name: str, label: str, target: str, required: bool = False) -> Field:
    return Field(name, label, "reference", 18, required=required, reference_to=target,
                 relationship_name=name[:-3] + "__r")


def _ext(name: str, label: str, length: int, unique: bool) -> Field:
    return Field(name, label, "string", length, unique=unique, external_id=True)


_CHANNEL = tuple(CHANNELS)
OBJECTS: dict[str, SObject] = {o.name: o for o in (
    _make("User", "User", "Users", "005", Field("Name", "Full Name", "string", 121), [
        Field("FirstName", "First Name", "string", 40),
        Field("LastName", "Last Name", "string", 80, required=True),
        Field("Email", "Email", "email", 128, required=True),
        Field("Username", "Username", "string", 80, required=True, unique=True),
    ]),
    _make("Account", "Account", "Accounts", "001", Field("Name", "Account Name", "string", 255), [
        Field("FirstName", "First Name", "string", 40),
        Field("LastName", "Last Name", "string", 80),
        Field("PersonEmail", "Email", "email", 80),
        _ext("External_ID_vod__c", "External ID", 120, unique=False),
        _ext("NPI_Number__c", "NPI Number", 20, unique=False),
    ]),
    _make("Call2_vod__c", "Call", "Calls", "a0C", Field("Name", "Call Name", "string", 80), [
        _ref("Account_vod__c", "Account", "Account", required=True),
        Field("Call_Date_vod__c", "Date", "date", required=True),
        Field("Call_Datetime_vod__c", "Datetime", "datetime"),
        Field("Status_vod__c", "Call Status", "picklist", 255, restricted=True,
              picklist=(("Planned_vod", "Planned"), ("Saved_vod", "Saved"), ("Submitted_vod", "Submitted"))),
        Field("Call_Channel_vod__c", "Call Channel", "picklist", 255, restricted=True, picklist=_CHANNEL),
        Field("Subject_vod__c", "Subject", "string", 255),
        Field("Send_To_Vault_Clinical_vod__c", "Send to Vault Clinical", "boolean"),
        _ext("Gateway_Request_Id__c", "Gateway Request Id", 64, unique=True),
    ], autonumber="C-{:07d}"),
    _make("Vault_Clinical_Interaction_vod__c", "Vault Clinical Interaction", "Vault Clinical Interactions", "a1V",
          Field("Name", "Interaction Name", "string", 80), [
        _ref("Account_vod__c", "Account", "Account", required=True),
        Field("Interaction_Date_vod__c", "Interaction Date", "date", required=True),
        Field("Status_vod__c", "Status", "picklist", 255, restricted=True,
              picklist=(("Planned_vod", "Planned"), ("Submitted_vod", "Submitted"))),
        Field("Channel_vod__c", "Channel", "picklist", 255, restricted=True, picklist=_CHANNEL),
        Field("Subject_vod__c", "Subject", "string", 255),
        Field("Owner_Text_vod__c", "Owner", "string", 255),
        _ext("Vault_Activity_Id_vod__c", "Vault Activity Id", 40, unique=True),
        _ref("Clinical_Study_vod__c", "Clinical Study", "Clinical_Study_vod__c"),
        _ref("Clinical_Site_vod__c", "Clinical Site", "Clinical_Site_vod__c"),
        Field("Context_Type_vod__c", "Context Type", "string", 40),
        Field("Context_Name_vod__c", "Context Name", "string", 255),
    ], autonumber="VCI-{:07d}"),
    _make("Clinical_Study_vod__c", "Clinical Study", "Clinical Studies", "a1S",
          Field("Name", "Clinical Study Name", "string", 80, required=True), [
        _ext("Vault_Study_Id_vod__c", "Vault Study Id", 40, unique=True),
    ]),
    _make("Clinical_Site_vod__c", "Clinical Site", "Clinical Sites", "a1T",
          Field("Name", "Clinical Site Name", "string", 80, required=True), [
        _ref("Clinical_Study_vod__c", "Clinical Study", "Clinical_Study_vod__c"),
        _ext("Vault_Site_Id_vod__c", "Vault Site Id", 40, unique=True),
    ]),
)}

_BY_LOWER = {k.lower(): v for k, v in OBJECTS.items()}
_BY_PREFIX = {o.prefix: o for o in OBJECTS.values()}


def object_named(name: str) -> SObject | None:
    """sObject by API name, case-insensitively."""
    return _BY_LOWER.get(name.lower())


def object_for_id(record_id: str) -> SObject | None:
    """sObject whose key prefix starts `record_id`."""
    return _BY_PREFIX.get(record_id[:3])
