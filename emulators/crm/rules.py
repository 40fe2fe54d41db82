"""Checks a create or update against field metadata and the org's rules, returning clean values or errors."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from .errors import SaveError
from .objects import OBJECTS, Field, SObject
from .store import Store
from .timestamps import format_ts, parse_date, parse_ts

__all__ = ["check_write", "valid_id", "normalize_id"]

_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
# Objects whose submitted records may not be dated in the future (the Veeva trigger), with their date field.
_SUBMIT_DATE = {"Call2_vod__c": "Call_Date_vod__c", "Vault_Clinical_Interaction_vod__c": "Interaction_Date_vod__c"}
_RO_MESSAGE = ("Unable to create/update fields: {}. Please check the security settings of this field and verify "
               "that it is read/write for your profile or permission set.")


def valid_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.match(value) is not None


def normalize_id(value: str) -> str:
    """The 18-character form of a 15- or 18-character id of this stand-in (its suffix is always `AAA`)."""
    return value + "AAA" if len(value) == 15 else value


def check_write(store: Store, obj: SObject, body: dict, existing: dict | None,
                today: date) -> tuple[dict, list[SaveError]]:
    """Validate `body` for a create (existing is None) or an update; return the values to store, or errors."""
    values, errors = _field_values(store, obj, body, existing)
    if errors:
        return values, errors
    merged = dict(existing or {})
    merged.update(values)
    errors = _account_name(obj, values, merged)
    missing = [f.name for f in obj.fields.values() if f.required and merged.get(f.name) in (None, "")]
    if missing:
        errors.append(SaveError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                                missing))
    if errors:
        return values, errors
    future = _future_submission(obj, merged, today)
    if future is not None:
        return values, [future]
    return values, _duplicates(store, obj, values, existing)


def _field_values(store: Store, obj: SObject, body: dict, existing: dict | None) -> tuple[dict, list[SaveError]]:
    """Each field the body sets, checked and in stored form, in the body's order."""
    errors: list[SaveError] = []
    values: dict[str, Any] = {}
    for key, raw in body.items():
        if key == "attributes" or (key.lower() == "id" and existing is not None):
            continue
        if key.lower() == "id":
            errors.append(SaveError("INVALID_FIELD", "The Id field should not be specified in the sobject data.",
                                    None))
            continue
        name, value, err = _field_value(store, obj, key, raw, existing)
        if err is not None:
            errors.append(err)
        else:
            values[name] = value
    return values, errors


def _field_value(store: Store, obj: SObject, key: str, raw: Any, existing: dict | None
                 ) -> tuple[str, Any, SaveError | None]:
    """The field's API name and stored value, or why it cannot be written; a relationship resolves to an id."""
    f = obj.field_named(key)
    if f is None:
        rel = obj.relationship(key)
        if rel is not None and isinstance(raw, dict):
            return rel.name, *_resolve_foreign(store, rel, raw)
        return key, None, SaveError("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", None)
    if (existing is None and not f.createable) or (existing is not None and not f.updateable):
        return f.name, None, SaveError("INVALID_FIELD_FOR_INSERT_UPDATE", _RO_MESSAGE.format(f.name), [f.name])
    return f.name, *_coerce(store, f, raw)


def _account_name(obj: SObject, values: dict, merged: dict) -> list[SaveError]:
    """A person account's Name follows its first and last names; it needs a last name."""
    renamed = "Name" not in values and bool({"FirstName", "LastName"} & values.keys())
    if obj.name != "Account" or not (renamed or not merged.get("Name")):
        return []
    if not merged.get("LastName"):
        return [SaveError("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"])]
    values["Name"] = merged["Name"] = " ".join(p for p in (merged.get("FirstName"), merged.get("LastName")) if p)
    return []


def _future_submission(obj: SObject, merged: dict, today: date) -> SaveError | None:
    """The Veeva trigger: a submitted call or interaction may not be dated in the future."""
    date_field = _SUBMIT_DATE.get(obj.name)
    if not date_field or merged.get("Status_vod__c") != "Submitted_vod" or not merged.get(date_field):
        return None
    if merged[date_field] <= today.isoformat():
        return None
    label = "call" if obj.name == "Call2_vod__c" else "interaction"
    return SaveError("FIELD_CUSTOM_VALIDATION_EXCEPTION", f"A {label} cannot be submitted with a date in the future.",
                     [])


def _duplicates(store: Store, obj: SObject, values: dict, existing: dict | None) -> list[SaveError]:
    errors = []
    for f in obj.fields.values():
        if f.unique and values.get(f.name) not in (None, ""):
            others = [i for i in store.live_ids(obj.name, f.name, values[f.name], limit=2)
                      if existing is None or i != existing["Id"]]
            if others:
                errors.append(SaveError("DUPLICATE_VALUE", f"duplicate value found: {f.name} duplicates value on "
                                        f"record with id: {others[0]}", [f.name]))
    return errors


def _coerce(store: Store, f: Field, raw: Any) -> tuple[Any, SaveError | None]:
    if isinstance(raw, dict | list):
        return None, _parse_error(f, raw)
    if f.type == "boolean":
        if raw is None:
            return False, None
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true", None
        return None, _parse_error(f, raw)
    if raw is None or raw == "":
        return None, None
    if f.type == "date":
        if not isinstance(raw, str) or parse_date(raw) is None:
            return None, _parse_error(f, raw)
        return raw, None
    if f.type == "datetime":
        parsed = parse_ts(raw) if isinstance(raw, str) else None
        if parsed is None:
            return None, _parse_error(f, raw)
        return format_ts(parsed), None
    text = raw if isinstance(raw, str) else str(raw).lower() if isinstance(raw, bool) else str(raw)
    if f.type in ("id", "reference"):
        return _check_reference(store, f, text)
    if f.length and len(text) > f.length:
        return None, SaveError("STRING_TOO_LONG", f"{f.label}: data value too large: {text} (max length={f.length})",
                               [f.name])
    if f.type == "picklist" and f.restricted and text not in {v for v, _ in f.picklist}:
        return None, SaveError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                               f"{f.label}: bad value for restricted picklist field: {text}", [f.name])
    if f.type == "email" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", text):
        return None, SaveError("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {text}", [f.name])
    return text, None


def _check_reference(store: Store, f: Field, text: str) -> tuple[Any, SaveError | None]:
    if not valid_id(text):
        return None, SaveError("MALFORMED_ID", f"{f.label}: id value of incorrect type: {text}", [f.name])
    target = OBJECTS[f.reference_to or ""]
    if text[:3] != target.prefix:
        return None, SaveError("FIELD_INTEGRITY_EXCEPTION",
                               f"field integrity exception: unknown ({f.label}: id value of incorrect type: {text})",
                               [f.name])
    ref = normalize_id(text)
    row = store.get(target.name, ref)
    if row is None or row["IsDeleted"]:
        return None, SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
    return ref, None


def _resolve_foreign(store: Store, rel: Field, raw: dict) -> tuple[str | None, SaveError | None]:
    target = OBJECTS[rel.reference_to or ""]
    keys = [k for k in raw if k != "attributes"]
    ext = target.field_named(keys[0]) if len(keys) == 1 else None
    if ext is None or not (ext.external_id or ext.name == "Id"):
        return None, SaveError("INVALID_FIELD", f"Foreign key external ID field not found in entity {target.name}",
                               [rel.name])
    value = raw[keys[0]]
    ids = store.live_ids(target.name, ext.name, value, limit=2)
    if not ids:
        return None, SaveError("INVALID_FIELD", f"Foreign key external ID: {value} not found for field {ext.name} "
                               f"in entity {target.name}", [rel.name])
    if len(ids) > 1:
        return None, SaveError("INVALID_FIELD", f"Foreign key external ID: {value} matches multiple records for "
                               f"field {ext.name} in entity {target.name}", [rel.name])
    return ids[0], None


def _parse_error(f: Field, raw: Any) -> SaveError:
    kind = {"boolean": "boolean", "date": "date", "datetime": "datetime"}.get(f.type, "string")
    return SaveError("JSON_PARSER_ERROR", f"Cannot deserialize instance of {kind} from value {raw!r} for field "
                     f"{f.name}", [f.name])
