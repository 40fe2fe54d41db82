"""HTTP routes of the Salesforce REST API stand-in: OAuth, query, sObject rows, collections, describe, polling."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import describe, soql
from .auth import Auth, OAuthError
from .cursors import Cursors
from .errors import ROLLED_BACK, ApiError, SaveError
from .limits import ApiUsage
from .objects import SObject, object_for_id, object_named
from .rules import check_write, normalize_id, valid_id
from .store import Store
from .timestamps import format_ts, parse_ts

__all__ = ["Org", "routes", "api_error", "LimitHeaderMiddleware"]

MAX_COLLECTION = 200
MAX_BATCH = 2000
MIN_BATCH = 200
REPLICATION_DAYS = 30
_VERSION = re.compile(r"^\d{2}\.0$")


@dataclass
class Org:
    """Everything one org process holds."""

    name: str
    instance: str
    org_id: str
    store: Store
    auth: Auth
    usage: ApiUsage
    cursors: Cursors
    today: date
    api_version: str


@dataclass
class Ctx:
    """One authenticated API call: the org, the session's user, and `/services/data/vNN.N`."""

    org: Org
    user: str
    base: str


Handler = Callable[[Request, Ctx], Awaitable[Response]]


def _org(request: Request) -> Org:
    return request.app.state.org


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with the version check, bearer-token check and usage accounting."""

    async def endpoint(request: Request) -> Response:
        org = _org(request)
        version = request.path_params.get("version", "")
        if not _VERSION.match(version) or not 20 <= float(version) <= float(org.api_version):
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        session = org.auth.session(request.headers.get("authorization"))
        org.usage.admit()
        return await handler(request, Ctx(org, session.user_id, f"/services/data/v{version}"))

    return endpoint


async def api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


class LimitHeaderMiddleware:
    """Adds `Sforce-Limit-Info: api-usage=N/M` to every response."""

    def __init__(self, app: ASGIApp, usage: ApiUsage) -> None:
        self.app = app
        self.usage = usage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"sforce-limit-info", self.usage.header().encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


# helpers

def _not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def _sobject(name: str) -> SObject:
    obj = object_named(name)
    if obj is None:
        raise _not_found()
    return obj


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}") from exc


def _record(obj: SObject, row: dict, base: str, fields: list[str] | None = None) -> dict:
    rec: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"{base}/sobjects/{obj.name}/{row['Id']}"}}
    for name in fields or list(obj.fields):
        rec[name] = row[name]
    return rec


def _fields_param(obj: SObject, request: Request) -> list[str] | None:
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


def _id_error(obj: SObject, record_id: str) -> SaveError | None:
    if not valid_id(record_id) or record_id[:3] != obj.prefix:
        return SaveError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {record_id}", ["Id"])
    return None


def _existing(ctx: Ctx, obj: SObject, record_id: str) -> tuple[dict | None, SaveError | None]:
    err = _id_error(obj, record_id)
    if err is not None:
        return None, err
    row = ctx.org.store.get(obj.name, normalize_id(record_id))
    if row is None:
        return None, SaveError("NOT_FOUND", "The requested resource does not exist")
    if row["IsDeleted"]:
        return None, SaveError("ENTITY_IS_DELETED", "entity is deleted")
    return row, None


def _load(ctx: Ctx, obj: SObject, record_id: str) -> dict:
    row, err = _existing(ctx, obj, record_id)
    if err is not None:
        raise ApiError(404 if err.code in ("NOT_FOUND", "ENTITY_IS_DELETED") else 400, err.code, err.message)
    assert row is not None
    return row


def _create(ctx: Ctx, obj: SObject, body: Any) -> tuple[str | None, list[SaveError]]:
    if not isinstance(body, dict):
        return None, [SaveError("JSON_PARSER_ERROR", "The request body must be a JSON object")]
    values, errors = check_write(ctx.org.store, obj, body, None, ctx.org.today)
    if errors:
        return None, errors
    return ctx.org.store.insert(obj, values, ctx.user), []


def _update(ctx: Ctx, obj: SObject, row: dict, body: Any) -> list[SaveError]:
    if not isinstance(body, dict):
        return [SaveError("JSON_PARSER_ERROR", "The request body must be a JSON object")]
    values, errors = check_write(ctx.org.store, obj, body, row, ctx.org.today)
    if not errors:
        ctx.org.store.update(obj, row["Id"], values, ctx.user)
    return errors


def _ext_field(obj: SObject, name: str) -> str:
    f = obj.field_named(name)
    if f is None or not (f.external_id or f.name == "Id"):
        raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}")
    return f.name


def _upsert(ctx: Ctx, obj: SObject, field: str, value: Any, body: dict
            ) -> tuple[str | None, bool, list[SaveError], list[str]]:
    """Create or update by external id: (id, created, errors, ids of several matches)."""
    if value in (None, ""):
        return None, False, [SaveError("MISSING_ARGUMENT", f"{field} not specified")], []
    if field == "Id":
        row, err = _existing(ctx, obj, str(value))
        if err is not None:
            return None, False, [err], []
        assert row is not None
        return row["Id"], False, _update(ctx, obj, row, body), []
    matches = ctx.org.store.live_ids(obj.name, field, value)
    if len(matches) > 1:
        return None, False, [], matches
    data = {k: v for k, v in body.items() if k.lower() != field.lower()}
    if not matches:
        data[field] = value
        new_id, errors = _create(ctx, obj, data)
        return new_id, True, errors, []
    row = ctx.org.store.get(obj.name, matches[0])
    assert row is not None
    return matches[0], False, _update(ctx, obj, row, data), []


def _raise(errors: list[SaveError]) -> None:
    if errors:
        raise ApiError.from_save(errors, 404 if errors[0].code in ("NOT_FOUND", "ENTITY_IS_DELETED") else 400)


def _stamp_param(request: Request, name: str) -> str:
    raw = request.query_params.get(name)
    if not raw:
        raise ApiError(400, "MISSING_ARGUMENT", f"{name} parameter not specified")
    parsed = parse_ts(raw.replace(" ", "+"))
    if parsed is None:
        raise ApiError(400, "INVALID_REPLICATION_DATE", f"Unable to parse {name}: {raw}")
    return format_ts(parsed)


def _window(ctx: Ctx, request: Request) -> tuple[str, str]:
    start, end = _stamp_param(request, "start"), _stamp_param(request, "end")
    now = ctx.org.store.clock.now()
    if start < format_ts(now - timedelta(days=REPLICATION_DAYS)):
        raise ApiError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    if end <= start:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "EndDate before StartDate")
    # The clock runs ahead of wall time after bursts of writes; the window still covers every stamp handed out.
    covered = max(now, ctx.org.store.clock.last + timedelta(milliseconds=1))
    return start, min(end, format_ts(covered))


# endpoints without a session

async def token(request: Request) -> Response:
    org = _org(request)
    form = dict(request.query_params)
    form.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":  # client_secret_basic: the client id and secret in the header
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        form.setdefault("client_id", unquote(client_id))
        form.setdefault("client_secret", unquote(secret))
    instance_url = f"{request.url.scheme}://{request.url.netloc}"
    try:
        return JSONResponse(org.auth.grant(form, instance_url))
    except OAuthError as exc:
        return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=400)


async def versions(request: Request) -> Response:
    return JSONResponse(describe.versions(_org(request).api_version))


# resources

@api
async def resources(_request: Request, ctx: Ctx) -> Response:
    names = ("sobjects", "query", "queryAll", "composite", "limits")
    return JSONResponse({n: f"{ctx.base}/{n}" for n in names})


@api
async def limits(_request: Request, ctx: Ctx) -> Response:
    usage = ctx.org.usage
    return JSONResponse({"DailyApiRequests": {"Max": usage.daily_limit,
                                              "Remaining": max(0, usage.daily_limit - usage.used)}})


async def _query(request: Request, ctx: Ctx, include_deleted: bool) -> Response:
    text = request.query_params.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    result = soql.run(ctx.org.store, text, today=ctx.org.today, base=ctx.base, include_deleted=include_deleted)
    if result.count is not None:
        return JSONResponse({"totalSize": result.count, "done": True, "records": []})
    batch = _batch_size(request)
    records = result.records
    if len(records) <= batch:
        return JSONResponse({"totalSize": len(records), "done": True, "records": records})
    locator = ctx.org.cursors.add(records, batch, include_deleted)
    return JSONResponse(_page(ctx, locator, records, 0, batch, include_deleted))


def _batch_size(request: Request) -> int:
    options = request.headers.get("sforce-query-options", "")
    m = re.search(r"batchSize\s*=\s*(\d+)", options, re.IGNORECASE)
    if m is None:
        return MAX_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, int(m.group(1))))


def _page(ctx: Ctx, locator: str, records: list[dict], offset: int, batch: int, include_deleted: bool) -> dict:
    end = offset + batch
    out: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
    if end < len(records):
        kind = "queryAll" if include_deleted else "query"
        out["nextRecordsUrl"] = f"{ctx.base}/{kind}/{locator}-{end}"
    out["records"] = records[offset:end]
    return out


@api
async def query(request: Request, ctx: Ctx) -> Response:
    return await _query(request, ctx, False)


@api
async def query_all(request: Request, ctx: Ctx) -> Response:
    return await _query(request, ctx, True)


@api
async def query_more(request: Request, ctx: Ctx) -> Response:
    locator, _, offset = request.path_params["locator"].partition("-")
    cursor = ctx.org.cursors.get(locator)
    if not offset.isdigit() or int(offset) > len(cursor.records):
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return JSONResponse(_page(ctx, locator, cursor.records, int(offset), cursor.batch, cursor.include_deleted))


@api
async def sobjects(_request: Request, ctx: Ctx) -> Response:
    return JSONResponse(describe.describe_global(ctx.base))


@api
async def sobject_root(request: Request, ctx: Ctx) -> Response:
    obj = _sobject(request.path_params["sobject"])
    if request.method == "GET":
        return JSONResponse(describe.basic_info(obj, ctx.base))
    new_id, errors = _create(ctx, obj, await _body(request))
    _raise(errors)
    return JSONResponse({"id": new_id, "success": True, "errors": []}, status_code=201)


@api
async def sobject_describe(request: Request, ctx: Ctx) -> Response:
    return JSONResponse(describe.describe_object(_sobject(request.path_params["sobject"]), ctx.base))


@api
async def sobject_updated(request: Request, ctx: Ctx) -> Response:
    obj = _sobject(request.path_params["sobject"])
    start, end = _window(ctx, request)
    return JSONResponse({"ids": ctx.org.store.updated(obj.name, start, end), "latestDateCovered": end})


@api
async def sobject_deleted(request: Request, ctx: Ctx) -> Response:
    obj = _sobject(request.path_params["sobject"])
    start, end = _window(ctx, request)
    rows = ctx.org.store.deleted(obj.name, start, end)
    earliest = ctx.org.store.earliest_deleted(obj.name) or start
    return JSONResponse({"deletedRecords": [{"id": i, "deletedDate": d} for i, d in rows],
                         "earliestDateAvailable": earliest, "latestDateCovered": end})


@api
async def sobject_row(request: Request, ctx: Ctx) -> Response:
    obj = _sobject(request.path_params["sobject"])
    record_id = request.path_params["id"]
    if request.method == "GET":
        fields = _fields_param(obj, request)
        return JSONResponse(_record(obj, _load(ctx, obj, record_id), ctx.base, fields))
    row = _load(ctx, obj, record_id)
    if request.method == "DELETE":
        ctx.org.store.delete(obj, row["Id"], ctx.user)
        return Response(status_code=204)
    _raise(_update(ctx, obj, row, await _body(request)))
    return Response(status_code=204)


@api
async def sobject_external(request: Request, ctx: Ctx) -> Response:
    obj = _sobject(request.path_params["sobject"])
    field = _ext_field(obj, request.path_params["field"])
    value = request.path_params["value"]
    if request.method == "GET":
        if field == "Id":
            return JSONResponse(_record(obj, _load(ctx, obj, value), ctx.base, _fields_param(obj, request)))
        matches = ctx.org.store.live_ids(obj.name, field, value)
        if len(matches) > 1:
            return JSONResponse([f"{ctx.base}/sobjects/{obj.name}/{i}" for i in matches], status_code=300)
        if not matches:
            raise _not_found()
        row = ctx.org.store.get(obj.name, matches[0])
        assert row is not None
        return JSONResponse(_record(obj, row, ctx.base, _fields_param(obj, request)))
    if request.method == "DELETE":
        matches = ctx.org.store.live_ids(obj.name, field, value)
        if len(matches) > 1:
            return JSONResponse([f"{ctx.base}/sobjects/{obj.name}/{i}" for i in matches], status_code=300)
        if not matches:
            raise _not_found()
        ctx.org.store.delete(obj, matches[0], ctx.user)
        return Response(status_code=204)
    body = await _body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    with ctx.org.store.transaction():
        record_id, created, errors, several = _upsert(ctx, obj, field, value, body)
    if several:
        return JSONResponse([f"{ctx.base}/sobjects/{obj.name}/{i}" for i in several], status_code=300)
    _raise(errors)
    return JSONResponse({"id": record_id, "success": True, "errors": [], "created": created},
                        status_code=201 if created else 200)


# sObject Collections

def _collection_records(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be an object with a records array")
    records = body["records"]
    if len(records) > MAX_COLLECTION:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", f"Record limit reached. Cannot submit more than {MAX_COLLECTION} "
                       "records in this call")
    return records, bool(body.get("allOrNone", False))


def _row_type(record: Any, fallback_id: Any = None) -> tuple[SObject | None, SaveError | None]:
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


def _run_rows(ctx: Ctx, count: int, all_or_none: bool, one: Callable[[int], dict]) -> list[dict]:
    """Apply `one` to each row index in a transaction; with allOrNone, any failure rolls back every row."""
    store = ctx.org.store
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


@api
async def collections(request: Request, ctx: Ctx) -> Response:
    if request.method == "DELETE":
        return _collection_delete(request, ctx)
    if request.method == "GET":
        raise _not_found()
    records, all_or_none = _collection_records(await _body(request))

    def create(i: int) -> dict:
        obj, err = _row_type(records[i])
        if err is not None or obj is None:
            return _row_result(None, [err] if err else [])
        new_id, errors = _create(ctx, obj, records[i])
        return _row_result(new_id, errors)

    def update(i: int) -> dict:
        rec = records[i]
        rid = rec.get("id", rec.get("Id")) if isinstance(rec, dict) else None
        obj, err = _row_type(rec, rid)
        if err is not None or obj is None:
            return _row_result(None, [err] if err else [])
        if not rid:
            return _row_result(None, [SaveError("MISSING_ARGUMENT", "Id not specified in an update call")])
        row, err = _existing(ctx, obj, str(rid))
        if err is not None or row is None:
            if err is not None and err.code == "NOT_FOUND":
                err = SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["Id"])
            return _row_result(None, [err] if err else [])
        return _row_result(row["Id"], _update(ctx, obj, row, rec))

    return JSONResponse(_run_rows(ctx, len(records), all_or_none, create if request.method == "POST" else update))


def _collection_delete(request: Request, ctx: Ctx) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter not specified")
    if len(ids) > MAX_COLLECTION:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", f"Record limit reached. Cannot submit more than {MAX_COLLECTION} "
                       "records in this call")
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"

    def delete(i: int) -> dict:
        obj = object_for_id(ids[i])
        if obj is None or not valid_id(ids[i]):
            return _row_result(None, [SaveError("MALFORMED_ID", f"malformed id {ids[i]}", [])])
        row, err = _existing(ctx, obj, ids[i])
        if err is not None or row is None:
            if err is not None and err.code == "NOT_FOUND":
                err = SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
            return _row_result(None, [err] if err else [])
        ctx.org.store.delete(obj, row["Id"], ctx.user)
        return _row_result(row["Id"], [])

    return JSONResponse(_run_rows(ctx, len(ids), all_or_none, delete))


@api
async def collection_object(request: Request, ctx: Ctx) -> Response:
    obj = _sobject(request.path_params["sobject"])
    if request.method == "GET":
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        fields = _fields_param(obj, request)
        if not ids or fields is None:
            raise ApiError(400, "MISSING_ARGUMENT", "ids and fields parameters are required")
        out: list[dict | None] = []
        for rid in ids[:MAX_COLLECTION]:
            row, err = _existing(ctx, obj, rid)
            out.append(None if row is None else _record(obj, row, ctx.base, fields))
        return JSONResponse(out)
    raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed. Allowed are GET")


@api
async def collection_upsert(request: Request, ctx: Ctx) -> Response:
    obj = _sobject(request.path_params["sobject"])
    field = _ext_field(obj, request.path_params["field"])
    records, all_or_none = _collection_records(await _body(request))

    def upsert(i: int) -> dict:
        rec = records[i]
        kind, err = _row_type(rec)
        if err is not None or kind is None:
            return _row_result(None, [err] if err else [])
        if kind.name != obj.name:
            return _row_result(None, [SaveError("INVALID_TYPE", f"Record type {kind.name} does not match "
                                                f"{obj.name}")])
        value = next((v for k, v in rec.items() if k.lower() == field.lower()), None)
        record_id, created, errors, several = _upsert(ctx, obj, field, value, rec)
        if several:
            errors = [SaveError("DUPLICATE_EXTERNAL_ID", f"The external ID field {field} has multiple matching "
                                f"records: {', '.join(several)}", [field])]
        return _row_result(record_id, errors, created)

    return JSONResponse(_run_rows(ctx, len(records), all_or_none, upsert))


def _both(path: str, endpoint: Callable[[Request], Awaitable[Response]], methods: list[str]) -> list[Route]:
    return [Route(path, endpoint, methods=methods), Route(path + "/", endpoint, methods=methods)]


def routes() -> list[Route]:
    data = "/services/data/v{version}"
    return [
        *_both("/services/oauth2/token", token, ["POST"]),
        *_both("/services/data", versions, ["GET"]),
        *_both(data, resources, ["GET"]),
        *_both(f"{data}/limits", limits, ["GET"]),
        *_both(f"{data}/query", query, ["GET"]),
        *_both(f"{data}/queryAll", query_all, ["GET"]),
        *_both(f"{data}/query/{{locator}}", query_more, ["GET"]),
        *_both(f"{data}/queryAll/{{locator}}", query_more, ["GET"]),
        *_both(f"{data}/sobjects", sobjects, ["GET"]),
        *_both(f"{data}/composite/sobjects", collections, ["GET", "POST", "PATCH", "DELETE"]),
        *_both(f"{data}/composite/sobjects/{{sobject}}", collection_object, ["GET", "POST", "PATCH"]),
        *_both(f"{data}/composite/sobjects/{{sobject}}/{{field}}", collection_upsert, ["PATCH"]),
        *_both(f"{data}/sobjects/{{sobject}}", sobject_root, ["GET", "POST"]),
        *_both(f"{data}/sobjects/{{sobject}}/describe", sobject_describe, ["GET"]),
        *_both(f"{data}/sobjects/{{sobject}}/updated", sobject_updated, ["GET"]),
        *_both(f"{data}/sobjects/{{sobject}}/deleted", sobject_deleted, ["GET"]),
        *_both(f"{data}/sobjects/{{sobject}}/{{id}}", sobject_row, ["GET", "PATCH", "DELETE"]),
        *_both(f"{data}/sobjects/{{sobject}}/{{field}}/{{value}}", sobject_external, ["GET", "PATCH", "DELETE"]),
    ]

