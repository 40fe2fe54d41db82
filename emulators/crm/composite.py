"""sObject Collections routes: up to 200 records created, updated, upserted, deleted or read in one call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import writes
from .context import Call, api, object_in_path
from .errors import ROLLED_BACK, ApiError, SaveError, not_found
from .objects import SObject, object_for_id, object_named
from .records import fields_param, json_body, record
from .rules import valid_id

__all__ = ["collections", "collection_object", "collection_upsert"]

MAX_COLLECTION = 200
TOO_MANY = f"Record limit reached. Cannot submit more than {MAX_COLLECTION} records in this call"


@api
async def collections(request: Request, call: Call) -> Response:
    """POST creates, PATCH updates (each record names its type), DELETE deletes by `ids`."""
    if request.method == "DELETE":
        return _delete(request, call)
    if request.method == "GET":
        raise not_found()
    records, all_or_none = _records(await json_body(request))
    one = _create_one if request.method == "POST" else _update_one
    return JSONResponse(_run_rows(call, len(records), all_or_none, lambda i: one(call, records[i])))


@api
async def collection_object(request: Request, call: Call) -> Response:
    """GET: the named fields of records of one object by `ids` (null for an id with no live record)."""
    obj = object_in_path(request)
    if request.method != "GET":
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed. Allowed are GET")
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    fields = fields_param(obj, request)
    if not ids or fields is None:
        raise ApiError(400, "MISSING_ARGUMENT", "ids and fields parameters are required")
    out: list[dict | None] = []
    for rid in ids[:MAX_COLLECTION]:
        row, _err = writes.existing(call, obj, rid)
        out.append(None if row is None else record(obj, row, call.base, fields))
    return JSONResponse(out)


@api
async def collection_upsert(request: Request, call: Call) -> Response:
    """PATCH: create or update each record by the external id field in the path."""
    obj = object_in_path(request)
    field = writes.external_field(obj, request.path_params["field"])
    records, all_or_none = _records(await json_body(request))
    return JSONResponse(_run_rows(call, len(records), all_or_none,
                                  lambda i: _upsert_one(call, obj, field, records[i])))


def _records(body: Any) -> tuple[list[Any], bool]:
    """The `records` array and the `allOrNone` flag of a collection body."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be an object with a records array")
    records = body["records"]
    if len(records) > MAX_COLLECTION:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", TOO_MANY)
    return records, bool(body.get("allOrNone", False))


def _run_rows(call: Call, count: int, all_or_none: bool, one: Callable[[int], dict]) -> list[dict]:
    """Apply `one` to each row index in a transaction; with allOrNone, any failure rolls back every row."""
    store = call.org.store
    with store.transaction():
        results = [one(i) for i in range(count)]
        if all_or_none and any(not r["success"] for r in results):
            store.rollback_on_exit()
            for r in results:
                if r["success"]:
                    r.update(id=None, success=False, errors=[ROLLED_BACK.row()])
                    r.pop("created", None)
    return results


def _row_result(record_id: str | None, errors: list[SaveError], created: bool | None = None) -> dict:
    out: dict[str, Any] = {"id": record_id if not errors else None, "success": not errors,
                           "errors": [e.row() for e in errors]}
    if created is not None and not errors:
        out["created"] = created
    return out


def _row_type(record: Any, fallback_id: Any = None) -> tuple[SObject | None, SaveError | None]:
    """The sObject a collection record names in `attributes.type` (or, for an update, its id's prefix)."""
    if not isinstance(record, dict):
        return None, SaveError("JSON_PARSER_ERROR", "Each record must be a JSON object")
    attributes = record.get("attributes")
    kind = attributes.get("type") if isinstance(attributes, dict) else None
    if kind is None and isinstance(fallback_id, str):
        found = object_for_id(fallback_id)
        if found is not None:
            return found, None
    if not kind:
        return None, SaveError("INVALID_TYPE", "Each record in the request must specify attributes.type")
    obj = object_named(str(kind))
    if obj is None:
        return None, SaveError("INVALID_TYPE", f"sObject type '{kind}' is not supported.")
    return obj, None


def _create_one(call: Call, rec: Any) -> dict:
    obj, err = _row_type(rec)
    if err is not None or obj is None:
        return _row_result(None, [err] if err else [])
    new_id, errors = writes.create(call, obj, rec)
    return _row_result(new_id, errors)


def _update_one(call: Call, rec: Any) -> dict:
    rid = rec.get("id", rec.get("Id")) if isinstance(rec, dict) else None
    obj, err = _row_type(rec, rid)
    if err is not None or obj is None:
        return _row_result(None, [err] if err else [])
    if not rid:
        return _row_result(None, [SaveError("MISSING_ARGUMENT", "Id not specified in an update call")])
    row, err = writes.existing(call, obj, str(rid))
    if err is not None or row is None:
        return _row_result(None, [_cross_reference(err, ["Id"])] if err else [])
    return _row_result(row["Id"], writes.update(call, obj, row, rec))


def _upsert_one(call: Call, obj: SObject, field: str, rec: Any) -> dict:
    kind, err = _row_type(rec)
    if err is not None or kind is None:
        return _row_result(None, [err] if err else [])
    if kind.name != obj.name:
        return _row_result(None, [SaveError("INVALID_TYPE", f"Record type {kind.name} does not match {obj.name}")])
    value = next((v for k, v in rec.items() if k.lower() == field.lower()), None)
    record_id, created, errors, several = writes.upsert(call, obj, field, value, rec)
    if several:
        errors = [SaveError("DUPLICATE_EXTERNAL_ID", f"The external ID field {field} has multiple matching "
                            f"records: {', '.join(several)}", [field])]
    return _row_result(record_id, errors, created)


def _cross_reference(err: SaveError, fields: list[str]) -> SaveError:
    """In a collection, an id with no record is an invalid cross reference, not a 404."""
    if err.code == "NOT_FOUND":
        return SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields)
    return err


def _delete(request: Request, call: Call) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter not specified")
    if len(ids) > MAX_COLLECTION:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", TOO_MANY)
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
    return JSONResponse(_run_rows(call, len(ids), all_or_none, lambda i: _delete_one(call, ids[i])))


def _delete_one(call: Call, record_id: str) -> dict:
    obj = object_for_id(record_id)
    if obj is None or not valid_id(record_id):
        return _row_result(None, [SaveError("MALFORMED_ID", f"malformed id {record_id}", [])])
    row, err = writes.existing(call, obj, record_id)
    if err is not None or row is None:
        return _row_result(None, [_cross_reference(err, [])] if err else [])
    call.org.store.delete(obj, row["Id"], call.user)
    return _row_result(row["Id"], [])
