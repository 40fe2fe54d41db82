"""Object record routes: read one record, and create, upsert, update or delete records in batches (JSON or CSV)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import csv_records, writes
from .context import Call, api, object_in_path, ok
from .errors import ApiError
from .objects import ObjectDef

__all__ = ["get_record", "write", "delete_record"]


@api
async def get_record(request: Request, call: Call) -> Response:
    obj, store = object_in_path(request), call.vault.store
    with store.engine.connect() as conn:
        row = store.get(conn, obj.name, request.path_params["id"])
    if row is None:
        raise ApiError("INVALID_DATA", f"The resource [{request.path_params['id']}] does not exist")
    return ok(data=store.to_api(obj.name, row))


@api
async def delete_record(request: Request, call: Call) -> Response:
    obj, store = object_in_path(request), call.vault.store
    with store.engine.begin() as conn:
        result = writes.delete(store, conn, obj.name, {"id": request.path_params["id"]})
    if result.errors:
        raise ApiError.from_save(result.errors)
    return ok(data={"id": result.id})


@api
async def write(request: Request, call: Call) -> Response:
    """POST creates (or with `idParam` upserts), PUT updates, DELETE deletes; each row succeeds or fails alone.

    The body is JSON, or CSV under `Content-Type: text/csv`; the answer is JSON, or CSV under `Accept: text/csv`.
    """
    obj = object_in_path(request)
    raw = await request.body()
    rows = (csv_records.read_records(raw, obj) if csv_records.is_csv(request.headers.get("content-type"))
            else _json_rows(raw))
    if len(rows) > writes.MAX_BATCH:
        raise ApiError("INVALID_DATA", f"{len(rows)} records sent; at most {writes.MAX_BATCH} are allowed")
    id_param = request.query_params.get("idParam") if request.method in ("POST", "PUT") else None
    if id_param is not None and id_param != "id" and id_param not in obj.unique_fields:
        raise ApiError("INVALID_DATA", f"idParam [{id_param}] is not a unique field of [{obj.name}]")
    results = _write_rows(request.method, call, obj, rows, id_param)
    data = [r.as_json(f"{call.base}/vobjects/{obj.name}") for r in results]
    if csv_records.wants_csv(request.headers.get("accept")):
        return Response(csv_records.write_results(data), media_type=csv_records.CSV_TYPE)
    return ok(data=data)


def _json_rows(raw: bytes) -> list[Any]:
    """The records of a JSON body: one object or a non-empty array."""
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError("INVALID_DATA", "The request body is not valid JSON") from None
    rows = body if isinstance(body, list) else [body] if isinstance(body, dict) else None
    if not rows:
        raise ApiError("INVALID_DATA", "The request body must be a JSON object or a non-empty array of objects")
    return rows


def _write_rows(method: str, call: Call, obj: ObjectDef, rows: list[Any], id_param: str | None
                ) -> list[writes.RowResult]:
    store, user = call.vault.store, call.user
    with store.engine.begin() as conn:
        if method == "POST":
            results = [writes.create(store, conn, obj.name, row, user, id_param) for row in rows]
        elif method == "PUT":
            results = [writes.update(store, conn, obj.name, row, user, id_param) for row in rows]
        else:
            return [writes.delete(store, conn, obj.name, row) for row in rows]
    if id_param is not None:
        for row, result in zip(rows, results, strict=True):
            key = row.get(id_param) if isinstance(row, dict) else None
            result.id_param_value = None if key is None else str(key)
    return results
