"""The Python floor of the benchmarks: the Node peer's work (bench/peer/) written by hand in Python, no GraphQL.

It answers the benchmarks' queries of a person (`bench.load.QUERY`, and `bench.QUERY` of the latency benchmark) with
the same JSON as the gateway and the peer: the same backend requests (over the gateway's own HTTP transport,
datasources/transport.py; an org's queries of one loop iteration in one Composite call), the same merge, ids, cursors
and sync states (the gateway's store, read-only), and a JWT verified on every request, as the peer does. It has no
schema, no validation and no executor (a query's text is parsed once, to know which fields it shows): the answer is
built as dictionaries and written by orjson, on uvicorn with the gateway's one-write HTTP protocol. What it spends
per request is about the least a Python server on this stack (uvicorn, httptools, orjson) can spend on this job; the
gateway's excess over it is what GraphQL execution and the gateway's own layers and features cost.

Run by `python -m bench.load --floor` and `python -m bench --floor` (FLOOR_PORT, and FLOOR_CONFIG: the peer's
configuration, see bench/peer/server.mjs)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sqlite3
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import orjson
import uvicorn
from graphql import SelectionSetNode, parse

from datasources.transport import Transport
from gateway.http_protocol import OneWriteHttp

FORM = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
JSON_BODY = {"content-type": "application/json", "accept": "application/json"}
MAX_QUERIES = 5
CTMS_CHANNELS = {"in_person__v": "IN_PERSON", "video__v": "VIDEO", "phone__v": "PHONE", "chat_text__v": "CHAT_TEXT",
                 "email__v": "EMAIL", "other__v": "OTHER"}
CRM_CHANNELS = {"Face_to_face_vod": "IN_PERSON", "Video_vod": "VIDEO", "Phone_vod": "PHONE",
                "Message_vod": "CHAT_TEXT", "Email_vod": "EMAIL", "Other_vod": "OTHER"}
ACTIVITY_FIELDS = ["id", "object_type__v.api_name__v", "modified_date__v", "person__v", "study__v",
                   "study_country__v", "site__v", "study_person__v", "activity_date__v", "channel__v",
                   "completed__v", "subject__v", "owner__v", "crm_org__v", "crm_call_id__v", "crm_call_key__v",
                   "gateway_request__v"]
ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]00:?00)?$")
RAW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")
Json = dict[str, Any]


def quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def to_global(kind: str, raw: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{raw}".encode()).decode().rstrip("=")


def from_global(value: str, kind: str) -> str:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except ValueError:
        text = ""
    head, sep, raw = text.partition(":")
    if sep and head == kind:
        return raw
    if RAW_ID.match(value):
        return value
    raise ValueError(f"id: not a valid {kind} id")


def iso_utc(value: object) -> str | None:
    """Python's isoformat() of a UTC instant, as the gateway writes it."""
    if value is None or value == "":
        return None
    m = ISO.match(str(value).strip())
    if m is None:
        return None
    micro = (m.group(3) or "").ljust(6, "0")[:6]
    return f"{m.group(1)}T{m.group(2)}{'' if micro.strip('0') == '' else '.' + micro}+00:00"


def text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def picklist(value: object) -> object:
    return value[0] if isinstance(value, list) else value


def truthy(value: object) -> bool:
    return value.lower() in ("true", "yes", "yes__v") if isinstance(value, str) else bool(value)


def owner_text(first: str | None, last: str | None, email: str | None) -> str | None:
    name = " ".join(p.strip() for p in (first, last) if p and p.strip())
    mail = (email or "").strip()
    if not name and not mail:
        return None
    return (f"{name} ({mail})" if name and mail else name or f"({mail})")[:255]


class Backend:
    """One backend: pooled keep-alive connections, one log-in in flight, one re-login when the session expires."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = Transport(max_connections=32)
        self.session: asyncio.Future[str] | None = None

    async def log_in(self) -> str:
        raise NotImplementedError

    def authorization(self, token: str) -> str:
        return token

    def expired(self, status: int, body: Json) -> bool:
        return status == 401

    def login(self) -> Awaitable[str]:
        if self.session is None:
            self.session = asyncio.ensure_future(self.log_in())
        return self.session

    async def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] = FORM) -> Json:
        for attempt in range(2):
            token = await self.login()
            sent = {**(headers if body else {"accept": "application/json"}), "authorization": self.authorization(token)}
            res = await self.http.request(method, self.url + path, body=body or b"", headers=sent)
            got = orjson.loads(res.body)
            if self.expired(res.status, got) and attempt == 0:
                self.session = None
                continue
            if res.status != 200:
                raise RuntimeError(f"answered {res.status}")
            return got
        raise RuntimeError("unreachable")


class Vault(Backend):
    def __init__(self, config: Json) -> None:
        super().__init__(config["url"])
        self.api = f"/api/{config['version']}"
        self.form = urlencode({"username": config["username"], "password": config["password"]}).encode()

    async def log_in(self) -> str:
        res = await self.http.request("POST", f"{self.url}{self.api}/auth", body=self.form, headers=FORM)
        return orjson.loads(res.body)["sessionId"]

    def expired(self, status: int, body: Json) -> bool:
        return status == 401 or (body.get("responseStatus") == "FAILURE" and any(
            e.get("type") == "INVALID_SESSION_ID" for e in body.get("errors") or []))

    async def query(self, vql: str) -> list[Json]:
        got = await self.call("POST", f"{self.api}/query", urlencode({"q": vql}).encode())
        if got.get("responseStatus") != "SUCCESS":
            raise RuntimeError("ctms refused the query")
        return got.get("data") or []


class Org(Backend):
    def __init__(self, config: Json) -> None:
        super().__init__(config["url"])
        self.name, self.ctms_field, self.crm_field = config["name"], config["ctmsField"], config["crmField"]
        self.api = f"/services/data/v{config['apiVersion'].removeprefix('v')}"
        self.form = urlencode({"grant_type": "client_credentials", "client_id": config["clientId"],
                               "client_secret": config["clientSecret"]}).encode()
        self.pending: list[tuple[str, asyncio.Future[list[Json]]]] = []

    async def log_in(self) -> str:
        res = await self.http.request("POST", f"{self.url}/services/oauth2/token", body=self.form, headers=FORM)
        return orjson.loads(res.body)["access_token"]

    def authorization(self, token: str) -> str:
        return f"Bearer {token}"

    def query(self, soql: str) -> asyncio.Future[list[Json]]:
        """The queries asked within one loop iteration go together (one Composite call for up to five)."""
        loop = asyncio.get_running_loop()
        if not self.pending:
            loop.call_soon(self.flush)
        future = loop.create_future()
        self.pending.append((soql, future))
        return future

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for i in range(0, len(pending), MAX_QUERIES):
            asyncio.ensure_future(self.send(pending[i:i + MAX_QUERIES]))

    async def send(self, chunk: list[tuple[str, asyncio.Future[list[Json]]]]) -> None:
        try:
            if len(chunk) == 1:
                got = await self.call("GET", f"{self.api}/query?{urlencode({'q': chunk[0][0]})}")
                chunk[0][1].set_result(got.get("records") or [])
                return
            body = orjson.dumps({"allOrNone": False, "compositeRequest": [
                {"method": "GET", "referenceId": f"q{i}", "url": f"{self.api}/query?{urlencode({'q': q})}"}
                for i, (q, _) in enumerate(chunk)]})
            got = await self.call("POST", f"{self.api}/composite", body, JSON_BODY)
            for (_, future), r in zip(chunk, got["compositeResponse"], strict=True):
                if r["httpStatusCode"] == 200:
                    future.set_result(r["body"].get("records") or [])
                else:
                    future.set_exception(RuntimeError(f"answered {r['httpStatusCode']}"))
        except Exception as exc:  # noqa: BLE001 - every caller of the chunk hears of it
            for _, future in chunk:
                if not future.done():
                    future.set_exception(exc)


class World:
    """The backends, the store and what is remembered across requests (identifier values last seen)."""

    def __init__(self, config: Json) -> None:
        self.vault = Vault(config["ctms"])
        self.orgs = sorted((Org(o) for o in config["orgs"]), key=lambda o: o.name)
        self.identifiers = sorted({o.ctms_field for o in self.orgs})
        self.known: dict[str, dict[str, str | None]] = {}
        self.db = sqlite3.connect(f"file:{config['database']}?mode=ro", uri=True, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout = 5000")

    async def person(self, pid: str) -> Json | None:
        fields = ", ".join(["id", "first_name__sys", "last_name__sys", "email__sys", *self.identifiers])
        rows = await self.vault.query(f"SELECT {fields} FROM person__sys WHERE id IN ({quote(pid)})")
        rec = next((r for r in rows if r.get("id") == pid), None)
        if rec is None:
            return None
        person = {"id": rec["id"], "firstName": rec.get("first_name__sys") or "",
                  "lastName": rec.get("last_name__sys") or "",
                  "identifiers": {f: text(rec.get(f)) for f in self.identifiers}}
        self.known.pop(pid, None)
        self.known[pid] = person["identifiers"]
        if len(self.known) > 10_000:
            del self.known[next(iter(self.known))]
        return person

    async def activities(self, pid: str, first: int) -> list[Json]:
        others = "".join(f" AND (crm_org__v != {quote(o.name)})" for o in self.orgs)
        rows = await self.vault.query(
            f"SELECT {', '.join(ACTIVITY_FIELDS)} FROM crm_activity__v WHERE (person__v IN ({quote(pid)})) AND "
            f"((object_type__v = 'clinical_activity__v') OR ((object_type__v = 'medical_activity__v'){others})) "
            f"ORDER BY activity_date__v DESC, id DESC PAGESIZE {first + 1}")
        return [ctms_item(r) for r in rows]

    async def calls(self, org: Org, value: str, first: int) -> list[Json]:
        rel = f"Account_vod__r.{org.crm_field}"
        fields = ["Id", "Account_vod__c", rel, "Call_Date_vod__c", "Status_vod__c", "Call_Channel_vod__c",
                  "Subject_vod__c", "Send_To_Vault_Clinical_vod__c", "CreatedBy.FirstName", "CreatedBy.LastName",
                  "CreatedBy.Email", "SystemModstamp"]
        rows = await org.query(f"SELECT {', '.join(fields)} FROM Call2_vod__c WHERE ({rel} IN ({quote(value)})) "
                               f"AND (Send_To_Vault_Clinical_vod__c = true) ORDER BY Call_Date_vod__c DESC, Id DESC "
                               f"LIMIT {first + 1}")
        return [crm_item(org.name, r) for r in rows]

    async def accounts(self, org: Org, value: str) -> list[Json]:
        rows = await org.query(f"SELECT Id, Name, {org.crm_field} FROM Account WHERE {org.crm_field} IN "
                               f"({quote(value)})")
        return sorted((r for r in rows if text(r.get(org.crm_field)) == value), key=lambda r: r["Id"])

    def attach(self, nodes: list[Json]) -> None:
        """Every node's `sync`: per org for a clinical activity, the CTMS's for a medical one."""
        names = [o.name for o in self.orgs]
        clinical = self.mirrors("clinical", [n["ctmsId"] for n in nodes if n["kind"] == "CLINICAL"])
        medical = self.mirrors("medical", [n["callKey"] for n in nodes if n["kind"] == "MEDICAL"])
        for n in nodes:
            if n["kind"] == "CLINICAL":
                n["sync"] = [status(o, clinical.get((n["ctmsId"], o)), n["modifiedAt"]) for o in names]
            elif n["ctmsId"] and n["callKey"].split(":")[0] not in names:
                n["sync"] = [{"connection": None, "state": "SYNCED", "remoteId": n["ctmsId"], "attempts": 0,
                              "lastError": None, "updatedAt": n["modifiedAt"]}]
            else:
                n["sync"] = [status(None, medical.get((n["callKey"], "ctms")), n["modifiedAt"])]

    def mirrors(self, kind: str, ids: list[str]) -> dict[tuple[str, str], tuple]:
        if not ids:
            return {}
        rows = self.db.execute("SELECT source_id, target, state, remote_id, attempts, last_error, updated_at FROM "
                               "mirror WHERE source_kind = ? AND source_id IN (SELECT value FROM json_each(?))",
                               (kind, json.dumps(ids)))
        return {(r[0], r[1]): r for r in rows}


def status(connection: str | None, row: tuple | None, since: str | None) -> Json:
    conn = None if connection is None else {"name": connection}
    if row is None:
        return {"connection": conn, "state": "PENDING", "remoteId": None, "attempts": 0, "lastError": None,
                "updatedAt": since}
    return {"connection": conn, "state": row[2], "remoteId": row[3], "attempts": row[4], "lastError": row[5],
            "updatedAt": iso_utc(row[6])}


def ctms_item(r: Json) -> Json:
    item = {"date": str(r["activity_date__v"])[:10], "channel": CTMS_CHANNELS.get(picklist(r.get("channel__v"))),
            "status": "COMPLETED" if truthy(r.get("completed__v")) else "PLANNED", "owner": r.get("owner__v"),
            "subject": r.get("subject__v"), "modifiedAt": iso_utc(r.get("modified_date__v")), "key": f"ctms:{r['id']}",
            "ctmsId": r["id"]}
    if picklist(r.get("object_type__v.api_name__v")) == "medical_activity__v":
        call_key = f"{r.get('crm_org__v') or ''}:{r.get('crm_call_id__v') or ''}"
        return {**item, "__typename": "MedicalActivity", "kind": "MEDICAL",
                "id": to_global("MedicalActivity", call_key), "callKey": call_key}
    return {**item, "__typename": "ClinicalActivity", "kind": "CLINICAL", "id": to_global("ClinicalActivity", r["id"])}


def crm_item(org: str, r: Json) -> Json:
    by = r.get("CreatedBy") or {}
    call_key = f"{org}:{r['Id']}"
    return {"__typename": "MedicalActivity", "kind": "MEDICAL", "id": to_global("MedicalActivity", call_key),
            "date": str(r["Call_Date_vod__c"])[:10], "channel": CRM_CHANNELS.get(r.get("Call_Channel_vod__c")),
            "status": "COMPLETED" if r.get("Status_vod__c") == "Submitted_vod" else "PLANNED",
            "owner": owner_text(by.get("FirstName"), by.get("LastName"), by.get("Email")),
            "subject": r.get("Subject_vod__c"), "modifiedAt": iso_utc(r.get("SystemModstamp")),
            "key": f"crm:{org}:{r['Id']}", "callKey": call_key, "ctmsId": None}


def cursor(item: Json) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": 1, "t": "tl", "d": item["date"], "k": item["key"]})
                                    ).decode().rstrip("=")


@dataclass(frozen=True)
class Shape:
    """What a query asks of the person and of each timeline node (read once per query text)."""

    person: tuple[str, ...]
    node: tuple[str, ...]

    @classmethod
    def of(cls, query: str) -> Shape:
        doc = parse(query)

        def under(selections: SelectionSetNode | None, name: str) -> SelectionSetNode | None:
            return next((f.selection_set for f in selections.selections if f.name.value == name), None)

        person = under(doc.definitions[0].selection_set, "person")
        node = under(under(under(person, "timeline"), "edges"), "node")
        return cls(tuple(f.name.value for f in person.selections), tuple(f.name.value for f in node.selections))


SHAPES: dict[str, Shape] = {}


def page(lists: list[list[Json]], first: int) -> Json:
    """Newest first, ties by key (descending), as the gateway merges."""
    items = sorted((i for items in lists for i in items), key=lambda i: (i["date"], i["key"]), reverse=True)
    edges = [{"cursor": cursor(n), "node": n} for n in items[:first]]
    return {"edges": edges, "pageInfo": {"hasNextPage": len(items) > first,
                                         "endCursor": edges[-1]["cursor"] if edges else None}}


async def answer(world: World, body: Json) -> Json:
    """The benchmarks' queries of one person (bench.load's, bench's): the reads started together (the calls from
    identifiers last seen), the answer shaped as the query asks."""
    query = body["query"]
    shape = SHAPES.get(query) or SHAPES.setdefault(query, Shape.of(query))
    pid = from_global((body.get("variables") or {})["id"], "Person")
    once: dict[tuple, asyncio.Future] = {}

    def read(key: tuple, run: Callable[[], Awaitable[list[Json]]]) -> asyncio.Future:
        if key not in once:
            once[key] = asyncio.ensure_future(run())
        return once[key]

    known = world.known.get(pid) or {}
    read(("a",), lambda: world.activities(pid, 20))
    for org in world.orgs:
        if value := known.get(org.ctms_field):
            read(("c", org.name, value), lambda o=org, v=value: world.calls(o, v, 20))
            if "accounts" in shape.person:
                read(("n", org.name, value), lambda o=org, v=value: world.accounts(o, v))
    person = await world.person(pid)
    if person is None:
        return {"data": {"person": None}}
    values = [person["identifiers"].get(o.ctms_field) for o in world.orgs]
    lists = await asyncio.gather(read(("a",), lambda: world.activities(pid, 20)), *(
        read(("c", o.name, v), lambda o=o, v=v: world.calls(o, v, 20)) if v else _none()
        for o, v in zip(world.orgs, values, strict=True)))
    timeline = page(list(lists), 20)
    if "sync" in shape.node:
        world.attach([e["node"] for e in timeline["edges"]])
    for edge in timeline["edges"]:
        edge["node"] = {k: edge["node"][k] for k in shape.node}
    shown = {"id": to_global("Person", person["id"]), "firstName": person["firstName"],
             "lastName": person["lastName"], "timeline": timeline}
    if "accounts" in shape.person:
        found = await asyncio.gather(*(read(("n", o.name, v), lambda o=o, v=v: world.accounts(o, v)) if v
                                       else _none() for o, v in zip(world.orgs, values, strict=True)))
        shown["accounts"] = [{"connection": {"name": o.name}, "accountId": a[0]["Id"], "name": a[0].get("Name") or ""}
                             for o, a in zip(world.orgs, found, strict=True) if len(a) == 1]
    return {"data": {"person": {k: shown[k] for k in shape.person}}}


async def _none() -> list[Json]:
    return []


class Verifier:
    """The bearer JWT of every request, verified against the issuer's keys (fetched once) as the peer does."""

    def __init__(self, issuer: str | None, audience: str) -> None:
        self.issuer, self.audience = issuer, audience
        self.keys: dict[str, Any] = {}
        if issuer:
            with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration") as r:
                jwks_uri = json.load(r)["jwks_uri"]
            with urllib.request.urlopen(jwks_uri) as r:
                self.keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(json.load(r)).keys}

    def check(self, header: bytes) -> bool:
        if not self.issuer:
            return True
        token = header.decode("latin-1").removeprefix("Bearer ")
        try:
            key = self.keys[jwt.get_unverified_header(token).get("kid")]
            jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=self.audience, issuer=self.issuer,
                       leeway=30)
        except (jwt.PyJWTError, KeyError):
            return False
        return True


def app(config: Json) -> Callable[..., Awaitable[None]]:
    """The ASGI app: POST /graphql with the benchmark's query; 401 without a valid token."""
    world: World | None = None
    verifier = Verifier(config.get("issuer"), config.get("audience", "ccgw"))

    async def asgi(scope: Json, receive: Callable, send: Callable) -> None:
        nonlocal world
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        if not verifier.check(headers.get(b"authorization", b"")):
            status, out = 401, b'{"errors":[{"message":"a valid bearer token is required"}]}'
        else:
            world = world or World(config)
            status, out = 200, orjson.dumps(await answer(world, orjson.loads(body)))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    return asgi


def main() -> None:
    config = uvicorn.Config(app(json.loads(os.environ["FLOOR_CONFIG"])), host="127.0.0.1",
                            port=int(os.environ.get("FLOOR_PORT", "4001")), http=OneWriteHttp, lifespan="off",
                            log_level="warning", access_log=False)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
