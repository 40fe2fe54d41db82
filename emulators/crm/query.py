"""SOQL routes: `query` and `queryAll` (deleted rows too), and their next batches through query locators."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import soql
from .context import Call, api
from .errors import ApiError

__all__ = ["query", "query_all", "query_more"]

MAX_BATCH = 2000
MIN_BATCH = 200


@api
async def query(request: Request, call: Call) -> Response:
    return _run(request, call, include_deleted=False)


@api
async def query_all(request: Request, call: Call) -> Response:
    return _run(request, call, include_deleted=True)


@api
async def query_more(request: Request, call: Call) -> Response:
    locator, _, offset = request.path_params["locator"].partition("-")
    cursor = call.org.cursors.get(locator)
    if not offset.isdigit() or int(offset) > len(cursor.records):
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return JSONResponse(_page(call, locator, cursor.records, int(offset), cursor.batch, cursor.include_deleted))


def _run(request: Request, call: Call, include_deleted: bool) -> Response:
    text = request.query_params.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    result = soql.run(call.org.store, text, today=call.org.today, base=call.base, include_deleted=include_deleted)
    if result.count is not None:
        return JSONResponse({"totalSize": result.count, "done": True, "records": []})
    batch = _batch_size(request)
    records = result.records
    if len(records) <= batch:
        return JSONResponse({"totalSize": len(records), "done": True, "records": records})
    locator = call.org.cursors.add(records, batch, include_deleted)
    return JSONResponse(_page(call, locator, records, 0, batch, include_deleted))


def _batch_size(request: Request) -> int:
    """The `Sforce-Query-Options: batchSize=N` header, held between 200 and 2000."""
    options = request.headers.get("sforce-query-options", "")
    m = re.search(r"batchSize\s*=\s*(\d+)", options, re.IGNORECASE)
    if m is None:
        return MAX_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, int(m.group(1))))


def _page(call: Call, locator: str, records: list[dict], offset: int, batch: int, include_deleted: bool) -> dict:
    end = offset + batch
    out: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
    if end < len(records):
        kind = "queryAll" if include_deleted else "query"
        out["nextRecordsUrl"] = f"{call.base}/{kind}/{locator}-{end}"
    out["records"] = records[offset:end]
    return out
