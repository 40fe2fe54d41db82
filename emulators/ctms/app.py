"""The Vault REST routes of the CTMS stand-in and the `create_app` factory.

Every failure is HTTP 200 with `responseStatus: FAILURE` and `errors: [{type, message}]`, as Vault answers. Error
types chosen here: an unknown route or a malformed version -> `MALFORMED_URL`; a wrong method on a known route ->
`METHOD_NOT_SUPPORTED`; a missing, unknown or idle-expired session -> `INVALID_SESSION_ID`; an unknown object
(in a path or in VQL), an unknown field or a bad value -> `INVALID_DATA`; malformed VQL ->
`INCORRECT_QUERY_SYNTAX_ERROR`; a missing parameter or required field -> `PARAMETER_REQUIRED`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.knobs import Knobs, KnobsMiddleware
from emulators.seed import CTMS_CREDENTIALS, World, build_world

from . import records
from .objects import OBJECT_TYPES, OBJECTS, PICKLISTS
from .sessions import Session, Sessions
from .store import Store, format_ts, parse_ts
from .throttle import BurstMiddleware, BurstWindow
from .vql import Query, VqlError, compile_query, parse

__all__ = ["create_app", "VAULT_ID", "API_VERSION"]

API_VERSION = "v26.1"
VAULT_ID = 1776
VAULT_NAME = "CTMS Stand-in Vault"
VERSION_RE = re.compile(r"^v\d+\.\d+$")
MAX_PAGE_TOKENS = 10_000

Handler = Callable[[Request, Session], Awaitable[Response]]


def ok(payload: dict | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"responseStatus": "SUCCESS", **(payload or {}), **extra})


def failure(type_: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"responseStatus": "FAILURE", "errors": [{"type": type_, "message": message}], **extra})


class CtmsApi:
    """The route handlers, sharing the store, the sessions and the page tokens of one stand-in."""

    def __init__(self, store: Store, sessions: Sessions) -> None:
        self.store = store
        self.sessions = sessions
        self.pages: OrderedDict[str, Query] = OrderedDict()

    # -- plumbing ------------------------------------------------------------------------------------------

    def api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Check the version and the session before the handler runs."""

        async def endpoint(request: Request) -> Response:
            if not VERSION_RE.match(request.path_params.get("version", "")):
                return failure("MALFORMED_URL", f"Invalid API version in [{request.url.path}]")
            session = self.sessions.lookup(request.headers.get("authorization"))
            if session is None:
                return failure("INVALID_SESSION_ID", "Invalid or expired session ID.")
            response = await handler(request, session)
            response.headers["X-VaultAPI-UserId"] = session.user_id
            response.headers["X-VaultAPI-VaultId"] = str(VAULT_ID)
            return response

        return endpoint

    def object_or_failure(self, name: str) -> JSONResponse | None:
        if name not in OBJECTS:
            return failure("INVALID_DATA", f"Object [{name}] does not exist")
        return None

    # -- auth and sessions ---------------------------------------------------------------------------------

    async def versions(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return ok(values={v: f"{base}/api/{v}" for v in ("v25.1", "v25.2", "v25.3", "v26.1")})

    async def auth(self, request: Request) -> Response:
        if not VERSION_RE.match(request.path_params["version"]):
            return failure("MALFORMED_URL", f"Invalid API version in [{request.url.path}]")
        form = await request.form()
        username = str(form.get("username") or request.query_params.get("username") or "")
        password = str(form.get("password") or request.query_params.get("password") or "")
        bad = {"errorType": "AUTHENTICATION_FAILED"}
        if not password:
            return failure("NO_PASSWORD_PROVIDED", "No password was provided for the login call.", **bad)
        users = self.store.tables["user__sys"]
        with self.store.engine.connect() as conn:
            user = conn.execute(select(users).where(func.vlower(users.c.username__sys) == username.lower())
                                ).mappings().first()
        if user is None or password != CTMS_CREDENTIALS["password"]:
            return failure("USERNAME_OR_PASSWORD_INCORRECT", "Authentication failed for user: " + username, **bad)
        if user["status__v"] == "inactive__v":
            return failure("INACTIVE_USER", "User is inactive or not found.", **bad)
        session = self.sessions.open(user["id"], user["username__sys"])
        base = str(request.base_url).rstrip("/")
        vault = {"id": VAULT_ID, "name": VAULT_NAME, "url": f"{base}/api"}
        return ok(sessionId=session.id, userId=int(user["id"]), vaultIds=[vault], vaultId=VAULT_ID)

    async def keep_alive(self, request: Request, session: Session) -> Response:
        return ok()

    async def logout(self, request: Request, session: Session) -> Response:
        self.sessions.close(session.id)
        return ok()

    # -- VQL -----------------------------------------------------------------------------------------------

    async def query(self, request: Request, session: Session) -> Response:
        text = request.query_params.get("q")
        if request.method == "POST":
            form = await request.form()
            text = str(form.get("q") or text or "")
        try:
            parsed = parse(text or "")
        except VqlError as exc:
            return failure(exc.type, exc.message)
        return self.run(request, parsed, None, None)

    async def query_page(self, request: Request, session: Session) -> Response:
        parsed = self.pages.get(request.path_params["token"])
        if parsed is None:
            return failure("INVALID_DATA", "The page URL is unknown or has expired")
        params = request.query_params
        try:
            pagesize = int(params["pagesize"]) if "pagesize" in params else None
            pageoffset = int(params["pageoffset"]) if "pageoffset" in params else None
        except ValueError:
            return failure("INVALID_DATA", "pagesize and pageoffset must be whole numbers")
        return self.run(request, parsed, pagesize, pageoffset, request.path_params["token"])

    def run(self, request: Request, parsed: Query, pagesize: int | None, pageoffset: int | None,
            token: str | None = None) -> Response:
        try:
            compiled = compile_query(self.store, parsed, pagesize, pageoffset)
        except VqlError as exc:
            return failure(exc.type, exc.message)
        with self.store.engine.connect() as conn:
            rows = conn.execute(compiled.page).all()
            size, offset, ps = len(rows), compiled.pageoffset, compiled.pagesize
            if offset == 0 and size < ps:
                total = size
            else:
                total = conn.execute(compiled.count).scalar_one()
        details: dict[str, Any] = {"pagesize": ps, "pageoffset": offset, "size": size, "total": total}
        version = request.path_params["version"]
        if offset + size < total or offset > 0:
            token = token or self.remember(parsed)
            if offset + size < total:
                details["next_page"] = f"/api/{version}/query/{token}?pagesize={ps}&pageoffset={offset + ps}"
            if offset > 0:
                details["previous_page"] = (f"/api/{version}/query/{token}?pagesize={ps}"
                                            f"&pageoffset={max(0, offset - ps)}")
        return ok(responseDetails=details, data=[compiled.shape(r) for r in rows])

    def remember(self, parsed: Query) -> str:
        token = str(uuid.uuid4())
        self.pages[token] = parsed
        while len(self.pages) > MAX_PAGE_TOKENS:
            self.pages.popitem(last=False)
        return token

    # -- records -------------------------------------------------------------------------------------------

    async def get_record(self, request: Request, session: Session) -> Response:
        obj = request.path_params["object"]
        if (bad := self.object_or_failure(obj)) is not None:
            return bad
        with self.store.engine.connect() as conn:
            row = self.store.get(conn, obj, request.path_params["id"])
        if row is None:
            return failure("INVALID_DATA", f"The resource [{request.path_params['id']}] does not exist")
        return ok(data=self.store.to_api(obj, row))

    async def deletions(self, request: Request, session: Session) -> Response:
        """Retrieve Deleted Object Record ID: ids deleted between start_date and end_date."""
        obj = request.path_params["object"]
        if (bad := self.object_or_failure(obj)) is not None:
            return bad
        bounds = []
        for name in ("start_date", "end_date"):
            raw = request.query_params.get(name)
            try:
                bounds.append(format_ts(parse_ts(raw)) if raw else None)
            except ValueError:
                return failure("INVALID_DATA", f"Invalid value [{raw}] for parameter [{name}]")
        with self.store.engine.connect() as conn:
            data = self.store.deleted(conn, obj, bounds[0], bounds[1])
        return ok(responseDetails={"total": len(data), "size": len(data), "limit": len(data), "offset": 0},
                  data=data)

    async def delete_record(self, request: Request, session: Session) -> Response:
        obj = request.path_params["object"]
        if (bad := self.object_or_failure(obj)) is not None:
            return bad
        with self.store.engine.begin() as conn:
            result = records.delete(self.store, conn, obj, {"id": request.path_params["id"]})
        if result.errors:
            return JSONResponse({"responseStatus": "FAILURE", "errors": result.errors})
        return ok(data={"id": result.id})

    async def write(self, request: Request, session: Session) -> Response:
        obj = request.path_params["object"]
        if (bad := self.object_or_failure(obj)) is not None:
            return bad
        try:
            body = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return failure("INVALID_DATA", "The request body is not valid JSON")
        rows = body if isinstance(body, list) else [body] if isinstance(body, dict) else None
        if not rows:
            return failure("INVALID_DATA", "The request body must be a JSON object or a non-empty array of objects")
        if len(rows) > records.MAX_BATCH:
            return failure("INVALID_DATA", f"{len(rows)} records sent; at most {records.MAX_BATCH} are allowed")
        id_param = request.query_params.get("idParam")
        if request.method == "POST" and id_param is not None and id_param != "id" \
                and id_param not in OBJECTS[obj].unique_fields:
            return failure("INVALID_DATA", f"idParam [{id_param}] is not a unique field of [{obj}]")
        results: list[records.RowResult] = []
        with self.store.engine.begin() as conn:
            for row in rows:
                if request.method == "POST":
                    results.append(records.create(self.store, conn, obj, row, session.user_id, id_param))
                elif request.method == "PUT":
                    results.append(records.update(self.store, conn, obj, row, session.user_id))
                else:
                    results.append(records.delete(self.store, conn, obj, row))
        url = f"/api/{request.path_params['version']}/vobjects/{obj}"
        return ok(data=[r.as_json(url) for r in results])

    # -- metadata ------------------------------------------------------------------------------------------

    async def list_objects(self, request: Request, session: Session) -> Response:
        version = request.path_params["version"]
        return ok(objects=[{"name": o.name, "label": o.label, "url": f"/api/{version}/metadata/vobjects/{o.name}"}
                           for o in OBJECTS.values()])

    async def describe_object(self, request: Request, session: Session) -> Response:
        name, version = request.path_params["object"], request.path_params["version"]
        if (bad := self.object_or_failure(name)) is not None:
            return bad
        obj = OBJECTS[name]
        described: dict[str, Any] = {
            "name": obj.name, "label": obj.label, "url": f"/api/{version}/metadata/vobjects/{obj.name}",
            "fields": [f.as_metadata(version) for f in obj.fields.values()],
            "object_types": [{"id": t.id, "api_name": t.api_name, "label": t.label} for t in obj.object_types],
        }
        if obj.name_format:
            described["system_managed_name"] = True
        return ok(object=described)

    async def picklist(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        if name not in PICKLISTS:
            return failure("INVALID_DATA", f"Picklist [{name}] does not exist")
        return ok(picklistValues=[{"name": k, "label": v} for k, v in PICKLISTS[name].items()])

    async def object_types(self, request: Request, session: Session) -> Response:
        return ok(data=[{"id": t.id, "object": "crm_activity__v", "api_name": t.api_name, "label": t.label}
                        for t in OBJECT_TYPES])

    # -- routes --------------------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        a = self.api
        v = "/api/{version}"
        return [
            Route("/api", self.versions, methods=["GET"]),
            Route(f"{v}/auth", self.auth, methods=["POST"]),
            Route(f"{v}/keep-alive", a(self.keep_alive), methods=["POST"]),
            Route(f"{v}/session", a(self.logout), methods=["DELETE"]),
            Route(f"{v}/query", a(self.query), methods=["GET", "POST"]),
            Route(f"{v}/query/{{token}}", a(self.query_page), methods=["GET", "POST"]),
            Route(f"{v}/metadata/vobjects", a(self.list_objects), methods=["GET"]),
            Route(f"{v}/metadata/vobjects/{{object}}", a(self.describe_object), methods=["GET"]),
            Route(f"{v}/objects/picklists/{{name}}", a(self.picklist), methods=["GET"]),
            Route(f"{v}/configuration/Objecttype", a(self.object_types), methods=["GET"]),
            Route(f"{v}/vobjects/{{object}}", a(self.write), methods=["POST", "PUT", "DELETE"]),
            Route(f"{v}/objects/deletions/vobjects/{{object}}", a(self.deletions), methods=["GET"]),
            Route(f"{v}/vobjects/{{object}}/{{id}}", a(self.get_record), methods=["GET"]),
            Route(f"{v}/vobjects/{{object}}/{{id}}", a(self.delete_record), methods=["DELETE"]),
            Route("/{path:path}", self.unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
        ]

    async def unknown(self, request: Request) -> Response:
        for route in self.routes()[:-1]:
            match, _ = route.matches({**request.scope, "method": "GET", "type": "http"})
            if match.name != "NONE" and route.methods and request.method not in route.methods:
                return failure("METHOD_NOT_SUPPORTED", f"Method [{request.method}] is not supported here")
        return failure("MALFORMED_URL", f"The resource [{request.url.path}] does not exist")


def create_app(world: World | None = None, *, knobs: Knobs | None = None, db_url: str = "sqlite://",
               session_idle_s: float = 1800.0, burst_limit: int | None = None, burst_window_s: float = 300.0,
               today: date | None = None, burst_delay_ms: float = 500.0,
               auth_burst_limit: int | None = None) -> Starlette:
    """The CTMS stand-in; an empty database is filled from `world` (or `build_world(today=today)`)."""
    knobs = knobs or Knobs()
    store = Store(db_url)
    if store.is_empty():
        store.load(world or build_world(today=today))
    else:
        store.init_counters()
    sessions = Sessions(session_idle_s)
    api = CtmsApi(store, sessions)
    stats: Counter[str] = Counter()

    def limit() -> int | None:
        return knobs.rate_limit if knobs.rate_limit is not None else burst_limit

    def window_s() -> float:
        return knobs.rate_window_s if knobs.rate_limit is not None else burst_window_s

    app = Starlette(routes=api.routes(), middleware=[
        Middleware(KnobsMiddleware, knobs=knobs, stats=stats),
        Middleware(BurstMiddleware, window=BurstWindow(limit, window_s), delay_ms=lambda: burst_delay_ms,
                   auth_limit=auth_burst_limit),
    ])
    app.state.knobs = knobs
    app.state.stats = stats
    app.state.store = store
    app.state.sessions = sessions
    return app
