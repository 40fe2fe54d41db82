"""A Vault REST API client: session log-in, VQL with paging, and record writes in batches of 500."""

from __future__ import annotations

import re
from typing import Any

from datasources.errors import RowError, SourceError, SourceRejected, SourceUnavailable, error_code
from datasources.http import Auth, Credential, HttpBackend, HttpSettings, Replies, Reply, delay_header_s, query_string
from datasources.instrument import ApiBudget, emit
from datasources.query import VQL, Select, check_field

BATCH_LIMIT = 500
SOURCE = "ctms"
FAILED = ("FAILURE", "EXCEPTION")
# Vault's error types that say "not now" rather than "not this request".
UNAVAILABLE = {"API_LIMIT_EXCEEDED": "API limit exceeded", "UNEXPECTED_ERROR": "unexpected error"}


class VaultSession(Auth):
    """Vault's user-name and password log-in; every call carries the session id as its `Authorization`."""

    def __init__(self, api: str, username: str, password: str) -> None:
        self.api = api
        self.username = username
        self.password = password

    async def log_in(self, http: HttpBackend) -> Credential:
        form = {"username": self.username, "password": self.password}
        reply = await http.with_retries(lambda: http.send("POST", f"{self.api}/auth", data=form))
        body = reply.body if isinstance(reply.body, dict) else {}
        if body.get("responseStatus") != "SUCCESS" or not body.get("sessionId"):
            raise http.rejected("login failed", code=first_error_type(body), status=reply.status)
        return Credential(str(body["sessionId"]))

    def headers(self, credential: Credential) -> dict[str, str]:
        return {"Authorization": credential.token}


class VaultReplies(Replies):
    """Vault answers HTTP 200 with `responseStatus` and `errors: [{type}]`, and names the next page `next_page`."""

    def expired(self, reply: Reply) -> bool:
        body = reply.body
        return (isinstance(body, dict) and body.get("responseStatus") in FAILED
                and first_error_type(body) == "INVALID_SESSION_ID")

    def refusal(self, reply: Reply, source: str) -> SourceError | None:
        body = reply.body
        if not isinstance(body, dict):
            return SourceUnavailable(source, f"unexpected reply (HTTP {reply.status})", status=reply.status)
        if body.get("responseStatus") not in FAILED:
            return None
        code = first_error_type(body)
        if code in UNAVAILABLE:
            return SourceUnavailable(source, UNAVAILABLE[code], status=reply.status, code=code)
        return SourceRejected(source, "request refused", code=code, status=reply.status)

    def page(self, body: Any) -> tuple[list[dict], str | None]:
        details = body.get("responseDetails") or {}
        return list(body.get("data") or []), details.get("next_page") or None


class CtmsClient(HttpBackend):
    """Speaks the Vault REST API; logs in lazily and once more when the session has expired."""

    probe_path = "/api"
    operations = (
        (None, re.compile(r"/auth$"), "login"),
        (None, re.compile(r"/query(/|$)"), "query"),
        (None, re.compile(r"/objects/deletions/"), "deletions"),
        (None, re.compile(r"/metadata/"), "describe"),
        ("GET", re.compile(r"/vobjects/[^/]+/[^/]+$"), "read"),
        ("POST", re.compile(r"/vobjects/[^/]+$"), "write"),
        ("PUT", re.compile(r"/vobjects/[^/]+$"), "update"),
        ("DELETE", re.compile(r"/vobjects/[^/]+$"), "delete"),
        ("GET", re.compile(r"^/api/?$"), "probe"),
    )

    def __init__(self, base_url: str, username: str, password: str, *, version: str = "v26.1",
                 settings: HttpSettings | None = None, max_records: int = 50_000) -> None:
        super().__init__(SOURCE, base_url, settings, auth=VaultSession(f"/api/{version}", username, password),
                         replies=VaultReplies())
        self.username = username
        self.version = version
        self.max_records = max_records
        self.burst_remaining: int | None = None
        self.response_delay_s = 0.0

    @property
    def api(self) -> str:
        return f"/api/{self.version}"

    async def login(self) -> str:
        """The session id, logging in when there is none."""
        return (await self.credential()).token

    def observe(self, reply: Reply) -> None:
        """Remember Vault's burst budget; once it is spent Vault delays answers, and writes should pace."""
        remaining = reply.headers.get("x-vaultapi-burstlimitremaining")
        if remaining is not None and remaining.lstrip("-").isdigit():
            self.burst_remaining = int(remaining)
            limit = reply.headers.get("x-vaultapi-burstlimit", "")
            if limit.isdigit():
                emit(ApiBudget(self.source, "burst", max(self.burst_remaining, 0), int(limit)))
        self.response_delay_s = delay_header_s(reply.headers.get("x-vaultapi-responsedelay")) or 0.0

    def state(self) -> dict[str, object]:
        return {"burstRemaining": self.burst_remaining, "responseDelayS": self.response_delay_s}

    async def query(self, select: Select | str) -> list[dict]:
        """Run VQL and follow `next_page` to the end (bounded by max_records)."""
        q = select if isinstance(select, str) else select.render(VQL)
        # VQL has no LIMIT: a Select's limit is rendered as PAGESIZE, so the first page is all that was asked for.
        wanted = self.max_records
        if isinstance(select, Select) and select.limit is not None:
            wanted = min(wanted, select.limit)
        form = query_string(q=q).encode()  # encoded once, for every attempt
        return await self.pages("POST", f"{self.api}/query", limit=wanted, data=form)

    async def write(self, method: str, obj: str, rows: list[dict], *, id_param: str | None = None,
                    retry: bool = True) -> list[dict | RowError]:
        """Create (POST), upsert (POST with idParam), update (PUT) or delete (DELETE) rows, 500 per call.

        Returns, in input order, each row's result data (`id`, `url`) or the RowError that refused it.
        """
        path = f"{self.api}/vobjects/{self.path_part(obj)}"
        params = {"idParam": check_field(id_param)} if id_param else None
        results: list[dict | RowError] = []
        for start in range(0, len(rows), BATCH_LIMIT):
            batch = rows[start:start + BATCH_LIMIT]
            body = (await self.call(method, path, params=params, json=batch, retry=retry)).body
            data = body.get("data") or []
            if len(data) != len(batch):
                raise SourceUnavailable(self.source, f"{len(data)} results for {len(batch)} rows")
            results.extend(_row_result(row) for row in data)
        return results

    async def deleted(self, obj: str, start: str | None = None) -> list[dict]:
        """Ids of records deleted since `start` (Vault timestamp), oldest first: `[{id, date_deleted}]`."""
        params = {"start_date": start} if start else {}
        reply = await self.call("GET", f"{self.api}/objects/deletions/vobjects/{self.path_part(obj)}", params=params)
        return sorted(reply.body.get("data") or [], key=lambda r: r.get("date_deleted") or "")

    async def get(self, obj: str, record_id: str) -> dict:
        reply = await self.call("GET", f"{self.api}/vobjects/{self.path_part(obj)}/{self.path_part(record_id)}")
        return reply.body.get("data") or {}

    async def describe(self, obj: str) -> dict:
        reply = await self.call("GET", f"{self.api}/metadata/vobjects/{self.path_part(obj)}")
        return reply.body.get("object") or {}


def _row_result(row: dict) -> dict | RowError:
    """One row of a batch write: its result data, or the error type that refused it."""
    if row.get("responseStatus") == "SUCCESS":
        return row.get("data") or {}
    return RowError(first_error_type(row) or "FAILURE")


def first_error_type(body: dict) -> str | None:
    """The type of the first of Vault's `errors`, when it looks like an error code."""
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    return error_code(first.get("type")) if isinstance(first, dict) else None
