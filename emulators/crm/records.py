"""sObject record routes: create, read, update and delete by id, and read, upsert or delete by external id."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import describe, writes
from .context import Call, api, object_in_path
from .errors import ApiError, not_found
from .objects import SObject

__all__ = ["sobject_root", "sobject_row", "sobject_external", "record", "fields_param", "json_body"]


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}") from exc


def record(obj: SObject, row: dict, base: str, fields: list[str] | None = None) -> dict:
    """A row as the REST API returns it: `attributes`, then the fields asked for (all by default)."""
    rec: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"{base}/sobjects/{obj.name}/{row['Id']}"}}
    for name in fields or list(obj.fields):
        rec[name] = row[name]
    return rec


def fields_param(obj: SObject, request: Request) -> list[str] | None:
    """The API names in a `fields=a,b` parameter, or None when there is none."""
    raw = request.query_params.get("fields")
    if not raw:
        return None
    out = []
    for name in (n.strip() for n in raw.split(",") if n.strip()):
        f = obj.field_named(name)
        if f is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'. If you are "
                           "attempting to use a custom field, be sure to append the '__c' after the custom field "
                           "name. Please reference your WSDL or the describe call for the appropriate names.")
        out.append(f.name)
    return out


@api
async def sobject_root(request: Request, call: Call) -> Response:
    """GET: the object's basic information; POST: create one record."""
    obj = object_in_path(request)
    if request.method == "GET":
        return JSONResponse(describe.basic_info(obj, call.base))
    new_id, errors = writes.create(call, obj, await json_body(request))
    writes.raise_errors(errors)
    return JSONResponse({"id": new_id, "success": True, "errors": []}, status_code=201)


@api
async def sobject_row(request: Request, call: Call) -> Response:
    obj = object_in_path(request)
    record_id = request.path_params["id"]
    if request.method == "GET":
        fields = fields_param(obj, request)
        return JSONResponse(record(obj, writes.load(call, obj, record_id), call.base, fields))
    row = writes.load(call, obj, record_id)
    if request.method == "DELETE":
        call.org.store.delete(obj, row["Id"], call.user)
        return Response(status_code=204)
    writes.raise_errors(writes.update(call, obj, row, await json_body(request)))
    return Response(status_code=204)


@api
async def sobject_external(request: Request, call: Call) -> Response:
    """By external id: GET reads, DELETE deletes, PATCH upserts; several matches answer 300 with their URLs."""
    obj = object_in_path(request)
    field = writes.external_field(obj, request.path_params["field"])
    value = request.path_params["value"]
    if request.method == "GET" and field == "Id":
        return JSONResponse(record(obj, writes.load(call, obj, value), call.base, fields_param(obj, request)))
    if request.method == "PATCH":
        return await _upsert_one(request, call, obj, field, value)
    matches = call.org.store.live_ids(obj.name, field, value)
    if len(matches) > 1:
        return _several(call, obj, matches)
    if not matches:
        raise not_found()
    if request.method == "DELETE":
        call.org.store.delete(obj, matches[0], call.user)
        return Response(status_code=204)
    row = call.org.store.get(obj.name, matches[0])
    assert row is not None
    return JSONResponse(record(obj, row, call.base, fields_param(obj, request)))


async def _upsert_one(request: Request, call: Call, obj: SObject, field: str, value: str) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    with call.org.store.transaction():
        record_id, created, errors, several = writes.upsert(call, obj, field, value, body)
    if several:
        return _several(call, obj, several)
    writes.raise_errors(errors)
    return JSONResponse({"id": record_id, "success": True, "errors": [], "created": created},
                        status_code=201 if created else 200)


def _several(call: Call, obj: SObject, ids: list[str]) -> Response:
    """HTTP 300: the URLs of every record an external id matches."""
    return JSONResponse([f"{call.base}/sobjects/{obj.name}/{i}" for i in ids], status_code=300)
