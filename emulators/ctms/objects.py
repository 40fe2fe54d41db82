"""Object and field metadata of the CTMS stand-in: types, required, unique, picklists, references, object types."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Field", "ObjectDef", "ObjectType", "OBJECTS", "PICKLISTS", "OBJECT_TYPES", "ID_PREFIX"]

# Field types, named as Vault's object metadata names them.
ID, TEXT, PICKLIST, REF, DATE, DATETIME, BOOLEAN, OBJECT_TYPE = (
    "ID", "String", "Picklist", "Object", "Date", "DateTime", "Boolean", "ObjectType")


@dataclass(frozen=True)
class Field:
    """One field of an object."""

    name: str
    label: str
    type: str
    required: bool = False
    unique: bool = False
    max_length: int | None = None
    picklist: str | None = None
    object: str | None = None  # the referenced object of an Object (reference) field
    system: bool = False  # set by the stand-in only, never by a write
    indexed: bool = False

    def as_metadata(self, base: str) -> dict:
        """The field as object metadata describes it; `base` is `/api/{version}`."""
        data: dict = {"name": self.name, "label": self.label, "type": self.type, "required": self.required,
                      "unique": self.unique, "editable": not self.system}
        if self.max_length is not None:
            data["max_length"] = self.max_length
        if self.picklist is not None:
            data["picklist"] = self.picklist
        if self.object is not None:
            data["object"] = {"name": self.object, "url": f"{base}/metadata/vobjects/{self.object}"}
            data["relationship_name"] = f"{self.name}r"
        return data


@dataclass(frozen=True)
class ObjectType:
    """An object type of `crm_activity__v`."""

    id: str
    api_name: str
    label: str


@dataclass
class ObjectDef:
    """One Vault object: its fields in order, the system-managed name format, its object types."""

    name: str
    label: str
    fields: dict[str, Field] = field(default_factory=dict)
    name_format: str | None = None  # e.g. "ACT-{:06d}" when name__v is system-managed
    object_types: tuple[ObjectType, ...] = ()

    @property
    def unique_fields(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.unique]


PICKLISTS: dict[str, dict[str, str]] = {
    "default_status__v": {"active__v": "Active", "inactive__v": "Inactive"},
    "activity_channel__v": {"in_person__v": "In Person", "video__v": "Video", "phone__v": "Phone",
                            "chat_text__v": "Chat/Text", "email__v": "Email", "other__v": "Other"},
}

OBJECT_TYPES = (
    ObjectType("OOT000000000001", "clinical_activity__v", "Clinical Activity"),
    ObjectType("OOT000000000002", "medical_activity__v", "Medical Activity"),
)

# Prefix of new record ids per object; users get plain numeric ids, as Vault user ids are numbers.
ID_PREFIX = {"person__sys": "0PE", "study__v": "0ST", "study_country__v": "0SC", "site__v": "0SI",
             "study_person__clin": "0SP", "crm_activity__v": "0AC"}


def _text(name: str, label: str, max_length: int = 255, **kw: object) -> Field:
    return Field(name, label, TEXT, max_length=max_length, **kw)  # type: ignore[arg-type]


def _ref(name: str, label: str, target: str, **kw: object) -> Field:
    return Field(name, label, REF, object=target, indexed=True, **kw)  # type: ignore[arg-type]


def _date(name: str, label: str, **kw: object) -> Field:
    return Field(name, label, DATE, indexed=True, **kw)  # type: ignore[arg-type]


def _object(name: str, label: str, extra: list[Field], *, name_format: str | None = None,
            types: tuple[ObjectType, ...] = ()) -> ObjectDef:
    fields = [Field("id", "ID", ID, system=True, unique=True),
              _text("name__v", "Name", 128, required=name_format is None, system=name_format is not None)]
    if types:
        fields.append(Field("object_type__v", "Object Type", OBJECT_TYPE, indexed=True))
    fields += [
        Field("created_date__v", "Created Date", DATETIME, system=True, indexed=True),
        Field("modified_date__v", "Last Modified Date", DATETIME, system=True, indexed=True),
        _ref("created_by__v", "Created By", "user__sys", system=True),
        _ref("modified_by__v", "Last Modified By", "user__sys", system=True),
        Field("status__v", "Status", PICKLIST, picklist="default_status__v"),
    ]
    fields += extra
    return ObjectDef(name, label, {f.name: f for f in fields}, name_format, types)


OBJECTS: dict[str, ObjectDef] = {o.name: o for o in [
    _object("user__sys", "User", [
        _text("first_name__sys", "First Name", 80), _text("last_name__sys", "Last Name", 80),
        _text("email__sys", "Email", 255, required=True), _text("username__sys", "User Name", 255, unique=True),
    ]),
    _object("person__sys", "Person", [
        _text("first_name__sys", "First Name", 80), _text("last_name__sys", "Last Name", 80, required=True),
        _text("email__sys", "Email", 255, indexed=True),
        _text("external_id__v", "External ID", 100, unique=True),
        _text("npi_number__c", "NPI Number", 20, unique=True),
    ]),
    _object("study__v", "Study", [_text("study_number__v", "Study Number", 100)]),
    _object("study_country__v", "Study Country", [
        _ref("study__v", "Study", "study__v", required=True), _text("country__v", "Country", 100),
    ]),
    _object("site__v", "Study Site", [
        _ref("study__v", "Study", "study__v", required=True),
        _ref("study_country__v", "Study Country", "study_country__v"),
        _text("site_number__v", "Site Number", 100),
    ]),
    _object("study_person__clin", "Study Personnel", [
        _ref("person__clin", "Person", "person__sys", required=True),
        _ref("study__clin", "Study", "study__v", required=True),
        _ref("study_country__clin", "Study Country", "study_country__v"),
        _ref("site__clin", "Study Site", "site__v"),
        _text("team_role__v", "Team Role", 100),
        _date("start_date__clin", "Start Date"), _date("end_date__clin", "End Date"),
    ]),
    _object("crm_activity__v", "Activity", [
        _ref("person__v", "Person", "person__sys", required=True),
        _ref("study__v", "Study", "study__v"),
        _ref("study_country__v", "Study Country", "study_country__v"),
        _ref("site__v", "Study Site", "site__v"),
        _ref("study_person__v", "Study Person", "study_person__clin"),
        _date("activity_date__v", "Activity Date", required=True),
        Field("channel__v", "Channel", PICKLIST, required=True, picklist="activity_channel__v"),
        Field("completed__v", "Completed", BOOLEAN, required=True),
        _text("subject__v", "Subject", 255),
        _text("owner__v", "Owner", 255),
        _text("crm_org__v", "CRM Org", 80),
        _text("crm_call_id__v", "CRM Call ID", 18),
        _text("crm_call_key__v", "CRM Call Key", 120, unique=True),
        _text("gateway_request__v", "Gateway Request", 64, unique=True),
    ], name_format="ACT-{:06d}", types=OBJECT_TYPES),
]}

CONTEXT_FIELDS = ("study__v", "study_country__v", "site__v", "study_person__v")
