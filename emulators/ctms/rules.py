"""Checks a record write against field metadata and the vault's rules, returning stored values or errors."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection

from .errors import SaveError
from .objects import (
    BOOLEAN,
    CONTEXT_FIELDS,
    DATE,
    OBJECT_TYPE,
    OBJECT_TYPES,
    PICKLIST,
    PICKLISTS,
    REF,
    Field,
    ObjectDef,
)
from .store import Store

__all__ = ["check_write", "CLINICAL"]

TYPE_ID = {t.api_name: t.id for t in OBJECT_TYPES}
TYPE_IDS = {t.id for t in OBJECT_TYPES}
CLINICAL = TYPE_ID["clinical_activity__v"]

Converted = tuple[Any, SaveError | None]


def _invalid(message: str) -> SaveError:
    return SaveError("INVALID_DATA", message)


def check_write(store: Store, conn: Connection, obj: ObjectDef, row: Any, existing: dict | None,
                ignore: tuple[str, ...] = ()) -> tuple[dict, list[SaveError]]:
    """The stored values a row sets (without system fields) for a create (existing is None) or an update."""
    if not isinstance(row, dict):
        return {}, [_invalid("Each record must be a JSON object")]
    values, errors = _field_values(store, conn, obj, row, ignore)
    if errors:
        return values, errors
    merged = dict(existing) if existing is not None else {"status__v": "active__v"}
    if existing is None and obj.object_types:
        merged["object_type__v"] = CLINICAL
    merged.update(values)
    errors = [SaveError("PARAMETER_REQUIRED", f"Missing required field [{f.name}]") for f in obj.fields.values()
              if f.required and not f.system and merged.get(f.name) is None]
    errors += _duplicates(store, conn, obj, values, existing)
    errors += _context_errors(obj, merged)
    return values, errors


def _field_values(store: Store, conn: Connection, obj: ObjectDef, row: dict, ignore: tuple[str, ...]
                  ) -> tuple[dict, list[SaveError]]:
    """Each field the row sets, converted to its stored form, in the row's order."""
    values: dict[str, Any] = {}
    errors: list[SaveError] = []
    for key, value in row.items():
        if key in ignore:
            continue
        if key == "object_type__v.api_name__v" and obj.object_types:
            key = "object_type__v"
        f = obj.fields.get(key)
        if f is None:
            errors.append(_invalid(f"Field [{key}] does not exist on object [{obj.name}]"))
            continue
        if f.system:
            errors.append(_invalid(f"Field [{key}] is system-managed and cannot be set"))
            continue
        values[key], err = _convert(store, conn, obj, f, value)
        if err is not None:
            errors.append(err)
    return values, errors


def _duplicates(store: Store, conn: Connection, obj: ObjectDef, values: dict, existing: dict | None
                ) -> list[SaveError]:
    errors = []
    for name in obj.unique_fields:
        value = values.get(name)
        if name == "id" or value is None:
            continue
        other = store.find_id(conn, obj.name, name, value)
        if other is not None and (existing is None or other != existing["id"]):
            errors.append(_invalid(f"Duplicate value [{value}] for unique field [{name}]; "
                                   f"record [{other}] already has it"))
    return errors


def _context_errors(obj: ObjectDef, merged: dict) -> list[SaveError]:
    """A clinical activity is about exactly one of a study, a study country, a site or a study person."""
    if obj.name != "crm_activity__v" or merged.get("object_type__v") != CLINICAL:
        return []
    set_contexts = [c for c in CONTEXT_FIELDS if merged.get(c) is not None]
    if len(set_contexts) == 1:
        return []
    return [_invalid("A Clinical Activity needs exactly one context: one of "
                     f"{', '.join(CONTEXT_FIELDS)} (found {len(set_contexts)})")]


def _convert(store: Store, conn: Connection, obj: ObjectDef, f: Field, value: Any) -> Converted:
    """One input value in stored form, or the reason it does not fit the field."""
    if f.type == PICKLIST:
        return _picklist(f, value)
    if value is None or value == "":
        return None, None
    if f.type == BOOLEAN:
        return _boolean(f, value)
    if isinstance(value, bool | dict | list):
        return None, _invalid(f"Invalid value for field [{f.name}]")
    text = str(value)
    if f.type == DATE:
        return _date(f, text)
    if f.type == OBJECT_TYPE:
        type_id = TYPE_ID.get(text, text)
        return type_id, None if type_id in TYPE_IDS else _invalid(f"Invalid object type [{text}] for object "
                                                                  f"[{obj.name}]")
    if f.type == REF:
        found = store.exists(conn, f.object or "", text)
        return text, None if found else _invalid(f"Record [{text}] for field [{f.name}] does not exist in "
                                                 f"[{f.object}]")
    if f.max_length is not None and len(text) > f.max_length:
        return text, _invalid(f"Value for field [{f.name}] exceeds the maximum length of {f.max_length}")
    return text, None


def _picklist(f: Field, value: Any) -> Converted:
    """One picklist value name; Vault sends picklists as arrays, and these fields take one value."""
    if isinstance(value, list):
        if len(value) > 1:
            return None, _invalid(f"Field [{f.name}] takes a single picklist value")
        value = value[0] if value else None
    if value in (None, ""):
        return None, None
    if not isinstance(value, str) or value not in PICKLISTS[f.picklist or ""]:
        return value, _invalid(f"Invalid picklist value [{value}] for field [{f.name}]")
    return value, None


def _boolean(f: Field, value: Any) -> Converted:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true", None
    return None, _invalid(f"Invalid value [{value}] for boolean field [{f.name}]")


def _date(f: Field, text: str) -> Converted:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text).isoformat(), None
    except ValueError:
        return None, _invalid(f"Invalid date [{text}] for field [{f.name}]: expected YYYY-MM-DD")
