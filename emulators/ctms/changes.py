"""Change routes: the ids of an object's records deleted in a time window."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .context import Call, api, object_in_path, ok
from .errors import ApiError
from .timestamps import format_ts, parse_ts

__all__ = ["deletions"]


@api
async def deletions(request: Request, call: Call) -> Response:
    """Retrieve Deleted Object Record ID: ids deleted between start_date and end_date (both optional)."""
    obj = object_in_path(request)
    start, end = _bound(request, "start_date"), _bound(request, "end_date")
    with call.vault.store.engine.connect() as conn:
        data = call.vault.store.deleted(conn, obj.name, start, end)
    return ok(responseDetails={"total": len(data), "size": len(data), "limit": len(data), "offset": 0}, data=data)


def _bound(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    ms = parse_ts(raw)
    if ms is None:
        raise ApiError("INVALID_DATA", f"Invalid value [{raw}] for parameter [{name}]")
    return format_ts(ms)
