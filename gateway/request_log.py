"""Per HTTP request, once answered: its metrics (gateway.metrics) and one log line with the request id, the user's
`sub`, the operation, the status, the outcome and the duration. Nothing of the body, the query string or the token."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import metrics
from gateway.logs import FIELDS, REQUEST_ID, pseudonym
from gateway.request_id import request_id_of
from schema.timing import STATE_KEY, OperationRecord

log = logging.getLogger("ccgw.request")
# A client that went away before its request was read (as nginx logs it): not the server's error.
CLIENT_CLOSED = 499
# Probes and scrapes come every few seconds: their lines are written only when they are refused or fail.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED = "other"
MAX_NAME_CHARS = 100


class RequestLog:
    """Just inside RequestId (whose id it names) and outside everything that may refuse a request, so that 401, 413
    and 429 are counted and logged too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 500  # unless a response starts: an exception escaping the app becomes a 500 further out
        token = REQUEST_ID.set(request_id_of(scope))

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            try:
                _record(scope, _route(scope, root_path), status, time.perf_counter() - started)
            finally:
                REQUEST_ID.reset(token)


def _route(scope: Scope, root_path: str) -> str:
    """The route's template (`/graphql`, `/static/{name}`): a bounded label, never the path as sent. A request
    refused before routing (401, 413, 429) is labelled with the plain route its path names, if any."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        app = scope.get("app")
        plain = {getattr(r, "path", None) for r in getattr(getattr(app, "router", None), "routes", ())}
        return scope["path"] if scope["path"] in plain and "{" not in scope["path"] else UNMATCHED
    mount = str(scope.get("root_path", ""))[len(root_path):]
    return f"{mount}{template}" if template != "/" or not mount else mount


def _outcome(operation: OperationRecord | None, status: int) -> str:
    if status == CLIENT_CLOSED:
        return "client_closed"
    if operation is not None:
        return operation.outcome or "error"  # no outcome: cancelled (deadline) or failed on the way out
    return "success" if status < 400 else "refused" if status < 500 else "error"


def _record(scope: Scope, route: str, status: int, duration_s: float) -> None:
    method = scope["method"]
    state = scope.get("state") or {}
    operation = state.get(STATE_KEY)
    operation = operation if isinstance(operation, OperationRecord) else None
    outcome = _outcome(operation, status)
    metrics.record_request(method, route, status, duration_s)
    if operation is not None:
        metrics.record_operation(operation, outcome)
    if route in QUIET_PATHS and status < 400:
        return
    fields: dict[str, object] = {
        "request_id": request_id_of(scope),
        "sub": pseudonym(getattr(state.get("actor"), "sub", None)),
        "method": method,
        "route": route,
        "status": status,
        "outcome": outcome,
        "duration_ms": round(duration_s * 1000, 1),
    }
    what = ""
    if operation is not None:
        name = operation.name[:MAX_NAME_CHARS]
        fields.update(operation_type=operation.type, operation_name=name)
        if operation.codes:
            fields["error_codes"] = operation.codes
        what = f" {operation.type} {name}"
    level = logging.WARNING if status >= 500 else logging.INFO
    if log.isEnabledFor(level):  # made directly: no look-up of the calling line, which no format shows
        log.handle(log.makeRecord(log.name, level, __file__, 0, "%s %s%s: %d %s in %.1f ms",
                                  (method, route, what, status, outcome, duration_s * 1000), None,
                                  extra={FIELDS: fields}))
