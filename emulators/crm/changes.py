"""Change routes: ids of an object's records updated, or deleted, in a replication window."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .context import Call, api, object_in_path
from .errors import ApiError
from .timestamps import format_ts, parse_ts

__all__ = ["updated", "deleted"]

REPLICATION_DAYS = 30


@api
async def updated(request: Request, call: Call) -> Response:
    obj = object_in_path(request)
    start, end = _window(call, request)
    return JSONResponse({"ids": call.org.store.updated(obj.name, start, end), "latestDateCovered": end})


@api
async def deleted(request: Request, call: Call) -> Response:
    obj = object_in_path(request)
    start, end = _window(call, request)
    rows = call.org.store.deleted(obj.name, start, end)
    earliest = call.org.store.earliest_deleted(obj.name) or start
    return JSONResponse({"deletedRecords": [{"id": i, "deletedDate": d} for i, d in rows],
                         "earliestDateAvailable": earliest, "latestDateCovered": end})


def _window(call: Call, request: Request) -> tuple[str, str]:
    """`start` and `end`, checked, with `end` capped at the last stamp handed out."""
    start, end = _stamp_param(request, "start"), _stamp_param(request, "end")
    clock = call.org.store.clock
    now = clock.now()
    if start < format_ts(now - timedelta(days=REPLICATION_DAYS)):
        raise ApiError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    if end <= start:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "EndDate before StartDate")
    # The clock runs ahead of wall time after bursts of writes; the window still covers every stamp handed out.
    covered = max(now, clock.last + timedelta(milliseconds=1))
    return start, min(end, format_ts(covered))


def _stamp_param(request: Request, name: str) -> str:
    raw = request.query_params.get(name)
    if not raw:
        raise ApiError(400, "MISSING_ARGUMENT", f"{name} parameter not specified")
    parsed = parse_ts(raw.replace(" ", "+"))  # an unencoded `+` in a query string arrives as a space
    if parsed is None:
        raise ApiError(400, "INVALID_REPLICATION_DATE", f"Unable to parse {name}: {raw}")
    return format_ts(parsed)
