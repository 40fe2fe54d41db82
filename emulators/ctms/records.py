"""Record writes of the CTMS stand-in: per-row validation and create, upsert, update and delete in one batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from .objects import (
    BOOLEAN,
    CONTEXT_FIELDS,
    DATE,
    OBJECT_TYPE,
    OBJECT_TYPES,
    OBJECTS,
    PICKLIST,
    PICKLISTS,
    REF,
    ObjectDef,
)
from .store import Store

__all__ = ["MAX_BATCH", "RowResult", "create", "update", "delete"]

MAX_BATCH = 500
TYPE_ID = {t.api_name: t.id for t in OBJECT_TYPES}
TYPE_IDS = {t.id for t in OBJECT_TYPES}
CLINICAL = TYPE_ID["clinical_activity__v"]


@dataclass
class RowResult:
    """The outcome of one row: the record id and upsert event, or Vault errors."""

    id: str | None = None
    event: str | None = None
    errors: list[dict] | None = None

    def as_json(self, url: str) -> dict:
        if self.errors:
            return {"responseStatus": "FAILURE", "errors": self.errors}
        data: dict[str, Any] = {"id": self.id, "url": f"{url}/{self.id}"}
        if self.event:
            data["event"] = self.event
        return {"responseStatus": "SUCCESS", "data": data}


def _err(type_: str, message: str) -> dict:
    return {"type": type_, "message": message}


def _convert(store: Store, conn: Connection, obj: ObjectDef, key: str, value: Any, errors: list[dict]) -> Any:
    """One input value in stored form, or an error appended (the returned value is then meaningless)."""
    f = obj.fields[key]
    if f.type == PICKLIST:
        if isinstance(value, list):
            if len(value) > 1:
                errors.append(_err("INVALID_DATA", f"Field [{key}] takes a single picklist value"))
                return None
            value = value[0] if value else None
        if value in (None, ""):
            return None
        if not isinstance(value, str) or value not in PICKLISTS[f.picklist or ""]:
            errors.append(_err("INVALID_DATA", f"Invalid picklist value [{value}] for field [{key}]"))
        return value
    if value is None or value == "":
        return None
    if f.type == BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        errors.append(_err("INVALID_DATA", f"Invalid value [{value}] for boolean field [{key}]"))
        return None
    if isinstance(value, bool | dict | list):
        errors.append(_err("INVALID_DATA", f"Invalid value for field [{key}]"))
        return None
    text = str(value)
    if f.type == DATE:
        try:
            if len(text) != 10:
                raise ValueError(text)
            return date.fromisoformat(text).isoformat()
        except ValueError:
            errors.append(_err("INVALID_DATA", f"Invalid date [{text}] for field [{key}]: expected YYYY-MM-DD"))
            return None
    if f.type == OBJECT_TYPE:
        type_id = TYPE_ID.get(text, text)
        if type_id not in TYPE_IDS:
            errors.append(_err("INVALID_DATA", f"Invalid object type [{text}] for object [{obj.name}]"))
        return type_id
    if f.type == REF:
        if not store.exists(conn, f.object or "", text):
            errors.append(_err("INVALID_DATA", f"Record [{text}] for field [{key}] does not exist in [{f.object}]"))
        return text
    if f.max_length is not None and len(text) > f.max_length:
        errors.append(_err("INVALID_DATA", f"Value for field [{key}] exceeds the maximum length of {f.max_length}"))
    return text


def _validate(store: Store, conn: Connection, obj: ObjectDef, row: Any, existing: dict | None,
              ignore: tuple[str, ...] = ()) -> tuple[dict, list[dict]]:
    """The stored values a row sets (without system fields), and its errors."""
    errors: list[dict] = []
    if not isinstance(row, dict):
        return {}, [_err("INVALID_DATA", "Each record must be a JSON object")]
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key in ignore:
            continue
        if key == "object_type__v.api_name__v" and obj.object_types:
            key = "object_type__v"
        f = obj.fields.get(key)
        if f is None:
            errors.append(_err("INVALID_DATA", f"Field [{key}] does not exist on object [{obj.name}]"))
            continue
        if f.system:
            errors.append(_err("INVALID_DATA", f"Field [{key}] is system-managed and cannot be set"))
            continue
        values[key] = _convert(store, conn, obj, key, value, errors)
    if errors:
        return values, errors
    merged = dict(existing) if existing is not None else {"status__v": "active__v"}
    if existing is None and obj.object_types:
        merged["object_type__v"] = CLINICAL
    merged.update(values)
    for f in obj.fields.values():
        if f.required and not f.system and merged.get(f.name) is None:
            errors.append(_err("PARAMETER_REQUIRED", f"Missing required field [{f.name}]"))
    for name in obj.unique_fields:
        value = values.get(name)
        if name == "id" or value is None:
            continue
        other = store.find_id(conn, obj.name, name, value)
        if other is not None and (existing is None or other != existing["id"]):
            errors.append(_err("INVALID_DATA", f"Duplicate value [{value}] for unique field [{name}]; "
                                               f"record [{other}] already has it"))
    if obj.name == "crm_activity__v" and merged.get("object_type__v") == CLINICAL:
        set_contexts = [c for c in CONTEXT_FIELDS if merged.get(c) is not None]
        if len(set_contexts) != 1:
            errors.append(_err("INVALID_DATA", "A Clinical Activity needs exactly one context: one of "
                                               f"{', '.join(CONTEXT_FIELDS)} (found {len(set_contexts)})"))
    return values, errors


def create(store: Store, conn: Connection, obj_name: str, row: Any, user_id: str,
           id_param: str | None = None) -> RowResult:
    """Create a record, or with `id_param` upsert: update the record whose unique field matches."""
    obj = OBJECTS[obj_name]
    if id_param is not None:
        key = row.get(id_param) if isinstance(row, dict) else None
        if key in (None, ""):
            return RowResult(errors=[_err("PARAMETER_REQUIRED", f"Missing value for idParam field [{id_param}]")])
        found = store.find_id(conn, obj_name, id_param, str(key))
        if found is not None:
            result = update(store, conn, obj_name, {**row, "id": found}, user_id)
            if not result.errors:
                result.event = "updated__sys"
            return result
        if id_param == "id":
            return RowResult(errors=[_err("INVALID_DATA", f"The resource [{key}] does not exist")])
    values, errors = _validate(store, conn, obj, row, None)
    if errors:
        return RowResult(errors=errors)
    now = store.now()
    record_id = store.next_id(obj_name)
    values.setdefault("status__v", "active__v")
    if obj.object_types:
        values.setdefault("object_type__v", CLINICAL)
    values.update(id=record_id, created_date__v=now, modified_date__v=now, created_by__v=user_id,
                  modified_by__v=user_id)
    if obj.name_format:
        values["name__v"] = store.next_name(obj_name)
    store.insert(conn, obj_name, values)
    return RowResult(id=record_id, event="created__sys" if id_param is not None else None)


def update(store: Store, conn: Connection, obj_name: str, row: Any, user_id: str,
           ignore: tuple[str, ...] = ()) -> RowResult:
    """Update the record named by the row's `id` with the row's other fields."""
    obj = OBJECTS[obj_name]
    record_id = row.get("id") if isinstance(row, dict) else None
    if not record_id:
        return RowResult(errors=[_err("PARAMETER_REQUIRED", "Missing required field [id]")])
    existing = store.get(conn, obj_name, str(record_id))
    if existing is None:
        return RowResult(errors=[_err("INVALID_DATA", f"The resource [{record_id}] does not exist")])
    values, errors = _validate(store, conn, obj, row, existing, ignore=("id", *ignore))
    if errors:
        return RowResult(errors=errors)
    values.update(modified_date__v=store.now(), modified_by__v=user_id)
    store.update(conn, obj_name, existing["id"], values)
    return RowResult(id=existing["id"])


def delete(store: Store, conn: Connection, obj_name: str, row: Any) -> RowResult:
    """Delete the record named by the row's `id`, unless another record still refers to it."""
    record_id = row.get("id") if isinstance(row, dict) else None
    if not record_id:
        return RowResult(errors=[_err("PARAMETER_REQUIRED", "Missing required field [id]")])
    if not store.exists(conn, obj_name, str(record_id)):
        return RowResult(errors=[_err("INVALID_DATA", f"The resource [{record_id}] does not exist")])
    refs = list(store.referrers(conn, obj_name, str(record_id)))
    if refs:
        return RowResult(errors=[_err("INVALID_DATA", f"The record [{record_id}] is referenced by "
                                                      f"{', '.join(refs)} and cannot be deleted")])
    store.delete(conn, obj_name, str(record_id))
    return RowResult(id=str(record_id))
