"""A Salesforce REST API client: OAuth2 token, SOQL with paging (queries of one tick in one Composite call), sObjects,
upserts and sObject Collections."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from datasources.crm.query_batch import QueryBatch
from datasources.errors import RowError, SourceError, SourceRejected, SourceUnavailable, error_code
from datasources.http import RETRY_STATUSES, Auth, Credential, HttpBackend, HttpSettings, Replies, Reply, query_string
from datasources.instrument import ApiBudget, BackendError, emit
from datasources.query import SOQL, Cmp, Select
from datasources.timestamps import SALESFORCE_TIME

COLLECTION_LIMIT = 200
# `Sforce-Limit-Info: api-usage=18/5000`: the org's API requests used in the last 24 hours, and its allowance.
_API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce wants the assertion's expiry within three minutes; a new one is signed for every log-in.
ASSERTION_LIFETIME_S = 180
# The Composite resource exists from API version 34.0 on.
COMPOSITE_SINCE = 34.0


@dataclass(frozen=True)
class JwtBearer:
    """What the OAuth 2.0 JWT bearer grant (RFC 7523) signs: the connected app's private key (PEM), the user the
    assertion names, and its audience (None: the URL the assertion is posted to)."""

    private_key: str
    subject: str
    audience: str | None = None


class SalesforceToken(Auth):
    """An OAuth2 token: JWT bearer when given one, else the password grant with a user, else client credentials.
    Calls carry it as a bearer token to the instance URL the token response names, accepted only on the
    configured origin."""

    def __init__(self, client_id: str, client_secret: str, username: str | None, password: str | None,
                 bearer: JwtBearer | None = None) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.bearer = bearer

    def form(self, http: HttpBackend) -> dict[str, str]:
        """The token request's form for this grant."""
        if self.bearer is not None:
            return {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion(http.base_url)}
        form = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.username:
            form.update(grant_type="password", username=self.username, password=self.password or "")
        else:
            form["grant_type"] = "client_credentials"
        return form

    def assertion(self, login_url: str) -> str:
        """A JWT naming the app (iss), the user (sub) and the authorization server (aud), valid three minutes,
        signed RS256 with the app's private key; a key that cannot sign is refused before anything is sent."""
        assert self.bearer is not None
        claims = {"iss": self.client_id, "sub": self.bearer.subject, "aud": self.bearer.audience or login_url,
                  "exp": int(time.time()) + ASSERTION_LIFETIME_S}
        try:
            key = serialization.load_pem_private_key(self.bearer.private_key.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the private key is not an unencrypted RSA private key in PEM")
        return jwt.encode(claims, key, algorithm="RS256")

    async def log_in(self, http: HttpBackend) -> Credential:
        try:
            form = self.form(http)
        except ValueError as exc:
            raise http.rejected(f"login failed: {exc}", code="INVALID_PRIVATE_KEY") from None
        reply = await http.with_retries(lambda: http.send("POST", "/services/oauth2/token", data=form))
        body = reply.body if isinstance(reply.body, dict) else {}
        if reply.status != 200 or not body.get("access_token"):
            raise http.rejected("login failed", code=error_code(str(body.get("error", "")).upper()),
                                status=reply.status)
        instance = http.url_for(str(body.get("instance_url") or http.base_url).rstrip("/"))
        return Credential(str(body["access_token"]), instance)

    def headers(self, credential: Credential) -> dict[str, str]:
        return {"Authorization": f"Bearer {credential.token}"}


class SalesforceReplies(Replies):
    """Salesforce answers an HTTP error status with `[{errorCode, message}]`, and names the next page
    `nextRecordsUrl` until `done`."""

    def expired(self, reply: Reply) -> bool:
        return reply.status == 401 or (reply.status >= 400 and _code(reply.body) == "INVALID_SESSION_ID")

    def refusal(self, reply: Reply, source: str) -> SourceError | None:
        if reply.status == 403 and _code(reply.body) == "REQUEST_LIMIT_EXCEEDED":
            return SourceUnavailable(source, "API request limit exceeded", status=403)
        if reply.status >= 400:
            return SourceRejected(source, "request refused", code=_code(reply.body), status=reply.status)
        return None

    def page(self, body: Any) -> tuple[list[dict], str | None]:
        body = body if isinstance(body, dict) else {}
        next_url = None if body.get("done", True) else body.get("nextRecordsUrl") or None
        return list(body.get("records") or []), next_url


class CrmClient(HttpBackend):
    """Speaks the Salesforce REST API for one org; gets a token lazily and once more after a 401."""

    probe_path = "/services/data"
    operations = (
        (None, re.compile(r"^/services/oauth2/token$"), "login"),
        (None, re.compile(r"/query(All)?(/|$)"), "query"),
        ("POST", re.compile(r"/composite/?$"), "query"),  # only queries are sent that way
        (None, re.compile(r"/sobjects/[^/]+/describe/?$"), "describe"),
        ("GET", re.compile(r"/sobjects/[^/]+/updated/?$"), "updated"),
        ("GET", re.compile(r"/sobjects/[^/]+/deleted/?$"), "deleted"),
        ("PATCH", re.compile(r"/composite/sobjects/"), "upsert"),
        ("DELETE", re.compile(r"/composite/sobjects"), "delete"),
        (None, re.compile(r"/composite/sobjects"), "write"),
        ("PATCH", re.compile(r"/sobjects/[^/]+/[^/]+/[^/]+$"), "upsert"),
        ("GET", re.compile(r"/sobjects/[^/]+/[^/]+$"), "read"),
        ("PATCH", re.compile(r"/sobjects/[^/]+/[^/]+$"), "update"),
        ("DELETE", re.compile(r"/sobjects/[^/]+/[^/]+$"), "delete"),
        ("POST", re.compile(r"/sobjects/[^/]+/?$"), "create"),
        ("GET", re.compile(r"^/services/data/?$"), "probe"),
    )

    def __init__(self, name: str, base_url: str, *, client_id: str, client_secret: str = "",
                 username: str | None = None, password: str | None = None, bearer: JwtBearer | None = None,
                 version: str = "66.0", settings: HttpSettings | None = None, max_records: int = 50_000) -> None:
        super().__init__(f"crm:{name}", base_url, settings,
                         auth=SalesforceToken(client_id, client_secret, username, password, bearer),
                         replies=SalesforceReplies())
        self.name = name
        self.version = version
        self.max_records = max_records
        # From the last `Sforce-Limit-Info`: API requests left of the org's 24-hour allowance, and the allowance.
        self.api_remaining: int | None = None
        self.api_limit: int | None = None
        self._queries = QueryBatch(self._query, self._queries_at_once)

    @property
    def api(self) -> str:
        return f"/services/data/v{self.version}"

    def observe(self, reply: Reply) -> None:
        """Remember what `Sforce-Limit-Info` says is left of the org's daily API allowance."""
        usage = _API_USAGE.search(reply.headers.get("sforce-limit-info", ""))
        if usage:
            used, limit = int(usage[1]), int(usage[2])
            self.api_remaining, self.api_limit = max(limit - used, 0), limit
            emit(ApiBudget(self.source, "daily", self.api_remaining, limit))

    async def versions(self) -> list[str]:
        """The API versions the org offers (`GET /services/data/`, which needs no token)."""
        reply = await self.with_retries(lambda: self.send("GET", "/services/data/", headers={
            "Accept": "application/json"}))
        if reply.status != 200 or not isinstance(reply.body, list):
            raise self.rejected("unexpected versions reply", status=reply.status)
        return [str(v["version"]) for v in reply.body if isinstance(v, dict) and v.get("version")]

    def _sobject_path(self, sobject: str, *parts: str) -> str:
        """`/services/data/vNN.N/sobjects/{sobject}/{part}…`, every part checked and quoted."""
        return "/".join([f"{self.api}/sobjects", *(self.path_part(p) for p in (sobject, *parts))])

    async def query(self, select: Select | str) -> list[dict]:
        """Run SOQL and follow `nextRecordsUrl` to the end (bounded by max_records)."""
        q = select if isinstance(select, str) else select.render(SOQL)
        if float(self.version) < COMPOSITE_SINCE:
            return await self._query(q)
        return await self._queries.run(q)

    async def _query(self, soql: str) -> list[dict]:
        return await self.pages("GET", f"{self.api}/query", limit=self.max_records, params={"q": soql})

    async def _queries_at_once(self, queries: Sequence[str]) -> list[list[dict] | BaseException]:
        """Several queries in one Composite call (allOrNone false: each answers alone); for each, its records or
        the error its subrequest amounts to."""
        refs = [f"q{i}" for i in range(len(queries))]
        reply = await self.call("POST", f"{self.api}/composite", json={"allOrNone": False, "compositeRequest": [
            {"method": "GET", "url": f"{self.api}/query?{query_string(q=q)}", "referenceId": ref}
            for ref, q in zip(refs, queries, strict=True)]})
        results = reply.body.get("compositeResponse") if isinstance(reply.body, dict) else None
        if not isinstance(results, list) or [r.get("referenceId") if isinstance(r, dict) else None
                                             for r in results] != refs:
            raise self.rejected("unexpected composite reply", status=reply.status)
        return [await self._subresult(r) for r in results]

    async def _subresult(self, result: dict) -> list[dict] | BaseException:
        status = result.get("httpStatusCode")
        sub = Reply(status if isinstance(status, int) else 500, {}, result.get("body"))
        if sub.status in RETRY_STATUSES:
            emit(BackendError(self.source, "throttled" if sub.status == 429 else "server_error"))
            return SourceUnavailable(self.source, f"HTTP {sub.status}", status=sub.status)
        refusal = self.refusal_of(sub)
        if refusal is not None:
            return refusal
        records, next_url = self.replies.page(sub.body)
        try:
            return await self.rest_of("GET", records, next_url, limit=self.max_records)
        except SourceError as exc:
            return exc

    async def get(self, sobject: str, record_id: str) -> dict | None:
        try:
            reply = await self.call("GET", self._sobject_path(sobject, record_id))
        except SourceRejected as exc:
            if exc.status in (400, 404):
                return None
            raise
        return reply.body

    async def create(self, sobject: str, fields: dict) -> str:
        reply = await self.call("POST", self._sobject_path(sobject) + "/", json=fields, retry=False)
        return reply.body["id"]

    async def update(self, sobject: str, record_id: str, fields: dict) -> None:
        await self.call("PATCH", self._sobject_path(sobject, record_id), json=fields)

    async def delete(self, sobject: str, record_id: str) -> bool:
        """Delete; False when the record was already gone."""
        try:
            await self.call("DELETE", self._sobject_path(sobject, record_id))
        except SourceRejected as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def upsert(self, sobject: str, ext_field: str, value: str, fields: dict) -> str:
        """Upsert by external id (idempotent, so retried); returns the record id."""
        reply = await self.call("PATCH", self._sobject_path(sobject, ext_field, value), json=fields)
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
        path = f"{self.api}/composite/sobjects/{self.path_part(sobject)}/{self.path_part(ext_field)}"
        results: list[str | RowError] = []
        for start in range(0, len(rows), COLLECTION_LIMIT):
            batch = [{"attributes": {"type": sobject}, **row} for row in rows[start:start + COLLECTION_LIMIT]]
            reply = await self.call("PATCH", path, json={"allOrNone": False, "records": batch})
            if not isinstance(reply.body, list) or len(reply.body) != len(batch):
                raise SourceUnavailable(self.source, "unexpected sObject Collections reply")
            results.extend(_row_result(row) for row in reply.body)
        return results

    async def updated_ids(self, sobject: str, start: datetime, end: datetime) -> tuple[list[str], str | None]:
        """Ids changed in [start, end] and the latest date covered (the next high-water mark)."""
        body = await self._changes(sobject, "updated", start, end)
        return list(body.get("ids") or []), body.get("latestDateCovered")

    async def deleted_ids(self, sobject: str, start: datetime, end: datetime) -> tuple[list[str], str | None]:
        """Ids deleted in [start, end] and the latest date covered (the next high-water mark)."""
        body = await self._changes(sobject, "deleted", start, end)
        return [r["id"] for r in body.get("deletedRecords") or [] if r.get("id")], body.get("latestDateCovered")

    async def _changes(self, sobject: str, kind: str, start: datetime, end: datetime) -> dict:
        params = {"start": SALESFORCE_TIME.format(start), "end": SALESFORCE_TIME.format(end)}
        reply = await self.call("GET", self._sobject_path(sobject, kind) + "/", params=params)
        return reply.body if isinstance(reply.body, dict) else {}

    async def describe(self, sobject: str) -> dict:
        return (await self.call("GET", self._sobject_path(sobject, "describe"))).body or {}


def _row_result(row: dict) -> str | RowError:
    """One record of an sObject Collections reply: its id, or the status code that refused it."""
    if row.get("success"):
        return row["id"]
    err = (row.get("errors") or [{}])[0]
    return RowError(error_code(err.get("statusCode")) or "UNKNOWN")


def _code(body: Any) -> str | None:
    """The `errorCode` of the first error of a Salesforce error reply, when it looks like one."""
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    return error_code(first.get("errorCode"))
