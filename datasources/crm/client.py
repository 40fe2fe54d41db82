"""A Salesforce REST API client: OAuth2 token, SOQL with paging, sObjects, upserts and sObject Collections."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from datasources.errors import RowError, SourceRejected, SourceUnavailable, error_code
from datasources.http import HttpBackend, HttpSettings, Reply
from datasources.query import SOQL, Cmp, Select, check_field

COLLECTION_LIMIT = 200


class CrmClient(HttpBackend):
    """Speaks the Salesforce REST API for one org; gets a token lazily and once more after a 401."""

    def __init__(self, name: str, base_url: str, *, client_id: str, client_secret: str,
                 username: str | None = None, password: str | None = None, version: str = "66.0",
                 settings: HttpSettings | None = None, max_records: int = 50_000) -> None:
        super().__init__(f"crm:{name}", base_url, settings)
        self.name = name
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.version = version
        self.max_records = max_records
        self._token: str | None = None
        self._instance_url: str | None = None
        self._token_lock = asyncio.Lock()

    @property
    def api(self) -> str:
        return f"/services/data/v{self.version}"

    async def token(self) -> str:
        async with self._token_lock:
            if self._token is None:
                form = {"client_id": self.client_id, "client_secret": self.client_secret}
                if self.username:
                    form.update(grant_type="password", username=self.username, password=self.password or "")
                else:
                    form["grant_type"] = "client_credentials"
                reply = await self.with_retries(lambda: self.send("POST", "/services/oauth2/token", data=form))
                body = reply.body if isinstance(reply.body, dict) else {}
                if reply.status != 200 or not body.get("access_token"):
                    raise self.rejected("login failed", code=error_code(str(body.get("error", "")).upper()),
                                        status=reply.status)
                # The org's API is called at its instance URL, accepted only on the configured origin.
                instance = self.url_for(str(body.get("instance_url") or self.base_url).rstrip("/"))
                self._token = body["access_token"]
                self._instance_url = instance
            return self._token

    async def call(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> Reply:
        """One authenticated call; a 401 gets a new token once; error arrays become typed errors."""
        for renew in (True, False):
            token = await self.token()
            url = self.url_for(path, self._instance_url)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

            async def attempt(url: str = url, headers: dict[str, str] = headers) -> Reply:
                return await self.send(method, url, headers=headers, **kwargs)

            reply = await (self.with_retries(attempt) if retry else self.with_retries(attempt, retries=0))
            if reply.status == 401 and renew:
                self._token = None
                continue
            if reply.status == 403 and _code(reply.body) == "REQUEST_LIMIT_EXCEEDED":
                raise SourceUnavailable(self.source, "API request limit exceeded", status=403)
            if reply.status >= 400:
                raise SourceRejected(self.source, "request refused", code=_code(reply.body), status=reply.status)
            return reply
        raise SourceUnavailable(self.source, "token could not be renewed")  # pragma: no cover

    async def query(self, select: Select | str) -> list[dict]:
        """Run SOQL and follow `nextRecordsUrl` to the end (bounded by max_records)."""
        q = select if isinstance(select, str) else select.render(SOQL)
        reply = await self.call("GET", f"{self.api}/query", params={"q": q})
        body = reply.body or {}
        records: list[dict] = list(body.get("records") or [])
        while not body.get("done", True) and body.get("nextRecordsUrl") and len(records) < self.max_records:
            body = (await self.call("GET", body["nextRecordsUrl"])).body or {}
            records.extend(body.get("records") or [])
        return records

    async def get(self, sobject: str, record_id: str) -> dict | None:
        try:
            reply = await self.call("GET", f"{self.api}/sobjects/{check_field(sobject)}/{quote(record_id, safe='')}")
        except SourceRejected as exc:
            if exc.status in (400, 404):
                return None
            raise
        return reply.body

    async def create(self, sobject: str, fields: dict) -> str:
        reply = await self.call("POST", f"{self.api}/sobjects/{check_field(sobject)}/", json=fields, retry=False)
        return reply.body["id"]

    async def update(self, sobject: str, record_id: str, fields: dict) -> None:
        await self.call("PATCH", f"{self.api}/sobjects/{check_field(sobject)}/{quote(record_id, safe='')}",
                        json=fields)

    async def delete(self, sobject: str, record_id: str) -> bool:
        """Delete; False when the record was already gone."""
        try:
            await self.call("DELETE", f"{self.api}/sobjects/{check_field(sobject)}/{quote(record_id, safe='')}")
        except SourceRejected as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def upsert(self, sobject: str, ext_field: str, value: str, fields: dict) -> str:
        """Upsert by external id (idempotent, so retried); returns the record id."""
        path = f"{self.api}/sobjects/{check_field(sobject)}/{check_field(ext_field)}/{quote(value, safe='')}"
        reply = await self.call("PATCH", path, json=fields)
        if reply.status == 300:
            raise SourceRejected(self.source, f"several {sobject} records have the same {ext_field}",
                                 code="MULTIPLE_CHOICES", status=300)
        if isinstance(reply.body, dict) and reply.body.get("id"):
            return reply.body["id"]
        found = await self.query(Select(sobject, ["Id"]).filter(Cmp(ext_field, "=", value)))
        if not found:
            raise SourceUnavailable(self.source, f"upserted {sobject} not found")
        return found[0]["Id"]

    async def upsert_many(self, sobject: str, ext_field: str, rows: list[dict]) -> list[str | RowError]:
        """Upsert with sObject Collections, 200 records a call; per-row ids or errors, in input order."""
        path = f"{self.api}/composite/sobjects/{check_field(sobject)}/{check_field(ext_field)}"
        results: list[str | RowError] = []
        for start in range(0, len(rows), COLLECTION_LIMIT):
            batch = [{"attributes": {"type": sobject}, **row} for row in rows[start:start + COLLECTION_LIMIT]]
            reply = await self.call("PATCH", path, json={"allOrNone": False, "records": batch})
            if not isinstance(reply.body, list) or len(reply.body) != len(batch):
                raise SourceUnavailable(self.source, "unexpected sObject Collections reply")
            for row in reply.body:
                if row.get("success"):
                    results.append(row["id"])
                else:
                    err = (row.get("errors") or [{}])[0]
                    results.append(RowError(error_code(err.get("statusCode")) or "UNKNOWN"))
        return results

    async def updated_ids(self, sobject: str, start: datetime, end: datetime) -> tuple[list[str], str | None]:
        """Ids changed in [start, end] and the latest date covered (the next high-water mark)."""
        reply = await self.call("GET", f"{self.api}/sobjects/{check_field(sobject)}/updated/",
                                params={"start": _sf_time(start), "end": _sf_time(end)})
        body = reply.body or {}
        return list(body.get("ids") or []), body.get("latestDateCovered")

    async def deleted_ids(self, sobject: str, start: datetime, end: datetime) -> tuple[list[str], str | None]:
        """Ids deleted in [start, end] and the latest date covered (the next high-water mark)."""
        reply = await self.call("GET", f"{self.api}/sobjects/{check_field(sobject)}/deleted/",
                                params={"start": _sf_time(start), "end": _sf_time(end)})
        body = reply.body or {}
        return [r["id"] for r in body.get("deletedRecords") or [] if r.get("id")], body.get("latestDateCovered")

    async def describe(self, sobject: str) -> dict:
        return (await self.call("GET", f"{self.api}/sobjects/{check_field(sobject)}/describe")).body or {}


def _sf_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def _first(body: Any) -> dict:
    return body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}


def _code(body: Any) -> str | None:
    return error_code(_first(body).get("errorCode"))
