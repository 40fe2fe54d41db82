"""A Vault REST API client: session login, VQL with paging, and record writes in batches of 500."""

from __future__ import annotations

import asyncio
from typing import Any

from datasources.errors import RowError, SourceRejected, SourceUnavailable, error_code
from datasources.http import HttpBackend, HttpSettings, Reply, delay_header_s
from datasources.query import VQL, Select, check_field

BATCH_LIMIT = 500
SOURCE = "ctms"


class CtmsClient(HttpBackend):
    """Speaks the Vault REST API; logs in lazily and once more when the session has expired."""

    def __init__(self, base_url: str, username: str, password: str, *, version: str = "v26.1",
                 settings: HttpSettings | None = None, max_records: int = 50_000) -> None:
        super().__init__(SOURCE, base_url, settings)
        self.username = username
        self.password = password
        self.version = version
        self.max_records = max_records
        self._session_id: str | None = None
        self.burst_remaining: int | None = None
        self.response_delay_s = 0.0
        self._login_lock = asyncio.Lock()

    @property
    def api(self) -> str:
        return f"/api/{self.version}"

    async def login(self) -> str:
        async with self._login_lock:
            if self._session_id is None:
                reply = await self.with_retries(lambda: self.send(
                    "POST", f"{self.api}/auth", data={"username": self.username, "password": self.password}))
                body = reply.body if isinstance(reply.body, dict) else {}
                if body.get("responseStatus") != "SUCCESS" or not body.get("sessionId"):
                    raise self.rejected("login failed", code=_first_type(body), status=reply.status)
                self._session_id = body["sessionId"]
            return self._session_id

    async def call(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> dict:
        """One authenticated call; re-login once on INVALID_SESSION_ID; FAILURE bodies become typed errors."""
        for relogin in (True, False):
            session_id = await self.login()
            headers = {"Authorization": session_id, "Accept": "application/json"}

            async def attempt(headers: dict[str, str] = headers) -> Reply:
                return await self.send(method, path, headers=headers, **kwargs)

            reply = await (self.with_retries(attempt) if retry else self.with_retries(attempt, retries=0))
            self._note_burst(reply)
            body = reply.body if isinstance(reply.body, dict) else None
            if body is None:
                raise SourceUnavailable(self.source, f"unexpected reply (HTTP {reply.status})", status=reply.status)
            if body.get("responseStatus") in ("FAILURE", "EXCEPTION"):
                code = _first_type(body)
                if code == "INVALID_SESSION_ID" and relogin:
                    self._session_id = None
                    continue
                if code in ("API_LIMIT_EXCEEDED", "UNEXPECTED_ERROR"):
                    raise SourceUnavailable(self.source, "API limit exceeded" if code == "API_LIMIT_EXCEEDED"
                                            else "unexpected error", status=reply.status, code=code)
                raise SourceRejected(self.source, "request refused", code=code, status=reply.status)
            return body
        raise SourceUnavailable(self.source, "session could not be renewed")  # pragma: no cover

    def _note_burst(self, reply: Reply) -> None:
        """Remember Vault's burst budget; once it is spent Vault delays answers, and writes should pace."""
        remaining = reply.headers.get("x-vaultapi-burstlimitremaining")
        if remaining is not None and remaining.lstrip("-").isdigit():
            self.burst_remaining = int(remaining)
        self.response_delay_s = delay_header_s(reply.headers.get("x-vaultapi-responsedelay")) or 0.0

    async def query(self, select: Select | str) -> list[dict]:
        """Run VQL and follow `next_page` to the end (bounded by max_records)."""
        q = select if isinstance(select, str) else select.render(VQL)
        # VQL has no LIMIT: a Select's limit is rendered as PAGESIZE, so the first page is all that was asked for.
        wanted = self.max_records
        if isinstance(select, Select) and select.limit is not None:
            wanted = min(wanted, select.limit)
        body = await self.call("POST", f"{self.api}/query", data={"q": q})
        records: list[dict] = list(body.get("data") or [])
        next_page = (body.get("responseDetails") or {}).get("next_page")
        while next_page and len(records) < wanted:
            body = await self.call("POST", next_page)
            records.extend(body.get("data") or [])
            next_page = (body.get("responseDetails") or {}).get("next_page")
        return records

    async def write(self, method: str, obj: str, rows: list[dict], *, id_param: str | None = None,
                    retry: bool = True) -> list[dict | RowError]:
        """Create (POST), upsert (POST with idParam), update (PUT) or delete (DELETE) rows, 500 per call.

        Returns, in input order, each row's result data (`id`, `url`) or the RowError that refused it.
        """
        path = f"{self.api}/vobjects/{obj}"
        if id_param:
            path += f"?idParam={id_param}"
        results: list[dict | RowError] = []
        for start in range(0, len(rows), BATCH_LIMIT):
            batch = rows[start:start + BATCH_LIMIT]
            body = await self.call(method, path, json=batch, retry=retry)
            data = body.get("data") or []
            if len(data) != len(batch):
                raise SourceUnavailable(self.source, f"{len(data)} results for {len(batch)} rows")
            for row in data:
                if row.get("responseStatus") == "SUCCESS":
                    results.append(row.get("data") or {})
                else:
                    results.append(RowError(_first_type(row) or "FAILURE"))
        return results

    async def deleted(self, obj: str, start: str | None = None) -> list[dict]:
        """Ids of records deleted since `start` (Vault timestamp), oldest first: `[{id, date_deleted}]`."""
        params = {"start_date": start} if start else {}
        body = await self.call("GET", f"{self.api}/objects/deletions/vobjects/{check_field(obj)}", params=params)
        return sorted(body.get("data") or [], key=lambda r: r.get("date_deleted") or "")

    async def get(self, obj: str, record_id: str) -> dict:
        body = await self.call("GET", f"{self.api}/vobjects/{obj}/{record_id}")
        return body.get("data") or {}

    async def describe(self, obj: str) -> dict:
        body = await self.call("GET", f"{self.api}/metadata/vobjects/{obj}")
        return body.get("object") or {}


def _first_type(body: dict) -> str | None:
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    return error_code(first.get("type")) if isinstance(first, dict) else None
