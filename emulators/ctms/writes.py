"""Record writes of the CTMS stand-in: create, upsert, update and delete, one row at a time within a batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from .errors import SaveError
from .objects import OBJECTS
from .rules import CLINICAL, check_write
from .store import Store

__all__ = ["MAX_BATCH", "RowResult", "create", "update", "delete"]

MAX_BATCH = 500


@dataclass
class RowResult:
    """The outcome of one row: the record id and upsert event, or the reasons it failed."""

    id: str | None = None
    event: str | None = None
    errors: list[SaveError] | None = None
    id_param_value: str | None = None  # the row's value of the `idParam` field, when the call named one

    def as_json(self, url: str) -> dict:
        if self.errors:
            failed: dict[str, Any] = {"responseStatus": "FAILURE"}
            if self.id_param_value is not None:
                failed["data"] = {"id_param_value": self.id_param_value}
            failed["errors"] = [e.json() for e in self.errors]
            return failed
        data: dict[str, Any] = {"id": self.id, "url": f"{url}/{self.id}"}
        if self.event:
            data["event"] = self.event
        if self.id_param_value is not None:
            data["id_param_value"] = self.id_param_value
        return {"responseStatus": "SUCCESS", "data": data}


def _failed(type_: str, message: str) -> RowResult:
    return RowResult(errors=[SaveError(type_, message)])


def create(store: Store, conn: Connection, obj_name: str, row: Any, user_id: str,
           id_param: str | None = None) -> RowResult:
    """Create a record, or with `id_param` upsert: update the record whose unique field matches."""
    if id_param is not None:
        key = row.get(id_param) if isinstance(row, dict) else None
        if key in (None, ""):
            return _failed("PARAMETER_REQUIRED", f"Missing value for idParam field [{id_param}]")
        found = store.find_id(conn, obj_name, id_param, str(key))
        if found is not None:
            result = update(store, conn, obj_name, {**row, "id": found}, user_id)
            if not result.errors:
                result.event = "updated__sys"
            return result
        if id_param == "id":
            return _failed("INVALID_DATA", f"The resource [{key}] does not exist")
    values, errors = check_write(store, conn, OBJECTS[obj_name], row, None)
    if errors:
        return RowResult(errors=errors)
    return RowResult(id=_insert(store, conn, obj_name, values, user_id), event="created__sys")


def _insert(store: Store, conn: Connection, obj_name: str, values: dict, user_id: str) -> str:
    """Add the system fields (id, stamps, users, a generated name) and insert; return the new id."""
    obj = OBJECTS[obj_name]
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
    return record_id


def update(store: Store, conn: Connection, obj_name: str, row: Any, user_id: str,
           id_param: str | None = None) -> RowResult:
    """Update the record named by the row's `id` (or by its `id_param` unique field) with the row's other fields."""
    key_field = id_param or "id"
    key = row.get(key_field) if isinstance(row, dict) else None
    if key in (None, ""):
        return _failed("PARAMETER_REQUIRED", f"Missing required field [{key_field}]")
    record_id = str(key) if key_field == "id" else store.find_id(conn, obj_name, key_field, str(key))
    existing = store.get(conn, obj_name, record_id) if record_id is not None else None
    if existing is None:
        return _failed("INVALID_DATA", f"The resource [{key}] does not exist")
    values, errors = check_write(store, conn, OBJECTS[obj_name], row, existing, ignore=("id",))
    if errors:
        return RowResult(errors=errors)
    values.update(modified_date__v=store.now(), modified_by__v=user_id)
    store.update(conn, obj_name, existing["id"], values)
    return RowResult(id=existing["id"])


def delete(store: Store, conn: Connection, obj_name: str, row: Any) -> RowResult:
    """Delete the record named by the row's `id`, unless another record still refers to it."""
    record_id = row.get("id") if isinstance(row, dict) else None
    if not record_id:
        return _failed("PARAMETER_REQUIRED", "Missing required field [id]")
    if not store.exists(conn, obj_name, str(record_id)):
        return _failed("INVALID_DATA", f"The resource [{record_id}] does not exist")
    refs = list(store.referrers(conn, obj_name, str(record_id)))
    if refs:
        return _failed("INVALID_DATA", f"The record [{record_id}] is referenced by {', '.join(refs)} and cannot be "
                                       "deleted")
    store.delete(conn, obj_name, str(record_id))
    return RowResult(id=str(record_id))
