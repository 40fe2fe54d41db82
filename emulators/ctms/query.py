"""VQL routes: run a query (`GET|POST /query`), and page through its results (`/query/{token}`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .context import Call, api, ok
from .errors import ApiError
from .vql import Compiled, Query, compile_query, parse

__all__ = ["query", "query_page"]


@api
async def query(request: Request, call: Call) -> Response:
    text = request.query_params.get("q")
    if request.method == "POST":
        form = await request.form()
        text = str(form.get("q") or text or "")
    return _run(call, parse(text or ""), None, None)


@api
async def query_page(request: Request, call: Call) -> Response:
    token = request.path_params["token"]
    parsed = call.vault.cursors.get(token)
    params = request.query_params
    try:
        pagesize = int(params["pagesize"]) if "pagesize" in params else None
        pageoffset = int(params["pageoffset"]) if "pageoffset" in params else None
    except ValueError:
        raise ApiError("INVALID_DATA", "pagesize and pageoffset must be whole numbers") from None
    return _run(call, parsed, pagesize, pageoffset, token)


def _run(call: Call, parsed: Query, pagesize: int | None, pageoffset: int | None, token: str | None = None
         ) -> Response:
    compiled = compile_query(call.vault.store, parsed, pagesize, pageoffset)
    with call.vault.store.engine.connect() as conn:
        rows = conn.execute(compiled.page).all()
        if compiled.pageoffset == 0 and len(rows) < compiled.pagesize:
            total = len(rows)  # the whole result fits on this page: no need to count
        else:
            total = conn.execute(compiled.count).scalar_one()
    details: dict[str, Any] = {"pagesize": compiled.pagesize, "pageoffset": compiled.pageoffset, "size": len(rows),
                               "total": total}
    details.update(_links(call, parsed, compiled, len(rows), total, token))
    return ok(responseDetails=details, data=[compiled.shape(r) for r in rows])


def _links(call: Call, parsed: Query, compiled: Compiled, size: int, total: int, token: str | None
           ) -> dict[str, str]:
    """`next_page` and `previous_page` URLs, under a page token made on the first page that needs one."""
    offset, ps = compiled.pageoffset, compiled.pagesize
    links: dict[str, str] = {}
    if offset + size < total or offset > 0:
        token = token or call.vault.cursors.add(parsed)
        if offset + size < total:
            links["next_page"] = f"{call.base}/query/{token}?pagesize={ps}&pageoffset={offset + ps}"
        if offset > 0:
            links["previous_page"] = f"{call.base}/query/{token}?pagesize={ps}&pageoffset={max(0, offset - ps)}"
    return links
