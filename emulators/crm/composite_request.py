"""The Composite resource: up to 25 subrequests (at most 5 of them queries) run in order in one call, which counts
as one call against the org's API allowance; every subrequest answers with its own status and body."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import Message, Scope

from .context import SUBREQUEST, Call, api
from .errors import ApiError
from .records import json_body

__all__ = ["composite"]

MAX_SUBREQUESTS = 25
MAX_QUERIES = 5
METHODS = frozenset({"GET", "POST", "PATCH", "DELETE"})
_QUERY_PATH = re.compile(r"/query(All)?(/|$)")
HALTED = [{"errorCode": "PROCESSING_HALTED",
           "message": "The transaction was rolled back since another operation in the same transaction failed."}]


@api
async def composite(request: Request, call: Call) -> Response:
    """GET lists the composite resources served here; POST runs `compositeRequest` in order.

    The stand-in does not resolve `@{reference}` expressions, and runs `allOrNone` only when every subrequest is a
    GET (it has nothing to roll back then: a failure halts the rest)."""
    if request.method == "GET":
        return JSONResponse({"sobjects": f"{call.base}/composite/sobjects"})
    subrequests, all_or_none = _subrequests(await json_body(request))
    results: list[dict[str, Any]] = []
    for sub in subrequests:
        if all_or_none and any(r["httpStatusCode"] >= 400 for r in results):
            results.append(_result(sub["referenceId"], 400, {}, HALTED))
            continue
        status, headers, body = await _run(request, sub)
        results.append(_result(sub["referenceId"], status, headers, body))
    return JSONResponse({"compositeResponse": results})


def _subrequests(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be an object with a compositeRequest array")
    subs, all_or_none = body["compositeRequest"], body.get("allOrNone", False) is True
    if not subs or len(subs) > MAX_SUBREQUESTS:
        raise ApiError(400, "INVALID_INPUT", f"A composite request holds 1 to {MAX_SUBREQUESTS} subrequests")
    refs: set[str] = set()
    for sub in subs:
        _check(sub, refs)
    if sum(bool(_QUERY_PATH.search(urlsplit(s["url"]).path)) for s in subs) > MAX_QUERIES:
        raise ApiError(400, "INVALID_INPUT", f"A composite request holds at most {MAX_QUERIES} query subrequests")
    if all_or_none and any(s["method"] != "GET" for s in subs):
        raise ApiError(400, "INVALID_INPUT", "This stand-in runs allOrNone only for GET subrequests")
    return subs, all_or_none


def _check(sub: Any, refs: set[str]) -> None:
    if not isinstance(sub, dict) or sub.get("method") not in METHODS or not isinstance(sub.get("url"), str):
        raise ApiError(400, "INVALID_INPUT", "Each subrequest needs a method (GET, POST, PATCH, DELETE) and a url")
    ref = sub.get("referenceId")
    if not isinstance(ref, str) or not re.fullmatch(r"[A-Za-z0-9_]+", ref) or ref in refs:
        raise ApiError(400, "INVALID_INPUT", "Each subrequest needs a unique alphanumeric referenceId")
    refs.add(ref)
    if not sub["url"].startswith("/services/data/v") or "@{" in json.dumps(sub):
        raise ApiError(400, "INVALID_INPUT", f"Unsupported subrequest url in {ref}")


def _result(ref: str, status: int, headers: dict[str, str], body: Any) -> dict[str, Any]:
    return {"body": body, "httpHeaders": headers, "httpStatusCode": status, "referenceId": ref}


async def _run(request: Request, sub: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """One subrequest through the org's own routes (not its middleware: one network call, one call counted)."""
    parts = urlsplit(sub["url"])
    body = b"" if sub.get("body") is None else json.dumps(sub["body"]).encode()
    headers = [(k, v) for k, v in request.scope["headers"] if k in (b"authorization", b"sforce-query-options")]
    scope: Scope = {**request.scope, "method": sub["method"], "path": parts.path, "raw_path": parts.path.encode(),
                    "query_string": parts.query.encode(), SUBREQUEST: True,
                    "headers": [*headers, (b"content-type", b"application/json")]}
    for route in request.app.router.routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return await _respond(route, {**scope, **child}, body)
    return 404, {}, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


async def _respond(route: Any, scope: Scope, body: bytes) -> tuple[int, dict[str, str], Any]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await route.handle(scope, receive, send)
    except HTTPException as exc:
        return exc.status_code, {}, [{"errorCode": "METHOD_NOT_ALLOWED" if exc.status_code == 405 else "NOT_FOUND",
                                      "message": exc.detail}]
    start = next(m for m in sent if m["type"] == "http.response.start")
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])
               if k.lower() not in (b"content-length", b"content-type")}
    return start["status"], headers, json.loads(raw) if raw else None
