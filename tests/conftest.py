"""Shared end-to-end fixtures: the CTMS stand-in and both CRM orgs on loopback, and the real gateway over them.

Fixture API (all session-scoped unless said otherwise):

- `stack` -> Stack: `stack.ctms`, `stack.orgs["us"|"eu"]`, `stack.idp` (EmulatorServer: `.url`), `stack.world` (the
  seed the stand-ins were loaded from, `build_world(40)`), `stack.settings` (the gateway's Settings; the worker runs,
  and reads `settings.poll_interval_s` on every cycle, so a test may change it at runtime; it starts at 0 = no
  polling), `stack.url` (the gateway's base URL), `stack.gql(query, variables=None, **http)` -> the JSON body of a POST
  to /graphql as the admin demo user (ada.admin, all four permissions), `stack.token(email)` -> an access token of a
  demo user (signed in through the identity provider stand-in with code + PKCE), `stack.as_user(email)` -> the
  gateway as that user (`.gql`, `.post`), and `stack.start_gateway(**settings_changes)` -> Gateway, another gateway
  app over the same stand-ins, identity provider and database (e.g. `worker=False`), stopped at the end of the
  session. `Gateway.post(..., token=None)` sends no Authorization header.
- `gql` (function-scoped): `gql(query, variables=None) -> dict` against `stack`.
- `knobs` (function-scoped): `knobs(server, **changes) -> dict` turns a stand-in's knobs through
  `PUT /_admin/knobs`; every server it touched is reset to no latency, no failures, no outage after the test.
- `stats(server) -> dict` and `reset_stats(server)`: the stand-in's request counts (`/_admin/stats`).
- `ctms_api` / `crm_api["us"|"eu"]`: small REST clients that read and write the stand-ins directly (Vault VQL and
  records; Salesforce SOQL and sObject Collections), for expectations and for data created behind the gateway.
"""

from __future__ import annotations

import base64
import copy
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest

from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, World, build_world
from emulators.server import EmulatorServer

CTMS_V = "/api/v26.1"
CRM_V = "/services/data/v66.0"
CRM_TIMEOUT_S = 1.0
KNOB_DEFAULTS = {"latency_ms": 0, "jitter_ms": 0, "failure_rate": 0.0, "outage": None, "rate_limit": None}


ADMIN = "ada.admin@ctms.example.com"
_DEFAULT = object()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser test, and the PostgreSQL run of a store test (its SQLite run stays), is a slow test:
    `pytest -m "not slow"` is the fast subset."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if item.get_closest_marker("browser") or on_postgres:
            item.add_marker(pytest.mark.slow)


@dataclass
class Gateway:
    """One running gateway app (uvicorn in a background thread), spoken to with one user's token."""

    server: EmulatorServer
    settings: object
    token: str | None = None
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.server.url, timeout=30)

    def with_token(self, token: str | None) -> Gateway:
        """The same gateway (same connection pool) spoken to with another token."""
        other = copy.copy(self)
        other.token = token
        return other

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, query: str, variables: dict | None = None, token: object = _DEFAULT,
             **http: object) -> httpx.Response:
        body: dict = {"query": query}
        if variables is not None:
            body["variables"] = variables
        headers = dict(http.pop("headers", None) or {"Accept": "application/json"})  # type: ignore[call-overload]
        token = self.token if token is _DEFAULT else token
        if token and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {token}"
        return self.client.post("/graphql", json=body, headers=headers, **http)

    def gql(self, query: str, variables: dict | None = None, **http: object) -> dict:
        """POST a GraphQL request; the JSON body of the answer (which must not be a 5xx)."""
        r = self.post(query, variables, **http)
        assert r.status_code < 500, r.text
        return r.json()

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


@dataclass
class Stack:
    ctms: EmulatorServer
    orgs: dict[str, EmulatorServer]
    idp: EmulatorServer
    world: World
    settings: object
    gateway: Gateway
    _extra: list[Gateway] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.gateway.url

    def gql(self, query: str, variables: dict | None = None, **http: object) -> dict:
        return self.gateway.gql(query, variables, **http)

    def token(self, email: str) -> str:
        """A demo user's access token, signed in through the identity provider (cached for the session)."""
        if email not in self._tokens:
            from gateway.tokens import fetch_token

            self._tokens[email] = fetch_token(self.idp.url, email)
        return self._tokens[email]

    def as_user(self, email: str, gateway: Gateway | None = None) -> Gateway:
        return (gateway or self.gateway).with_token(self.token(email))

    def start_gateway(self, **changes: object) -> Gateway:
        gw = _serve_gateway(replace(self.settings, **changes), self.token(ADMIN))
        self._extra.append(gw)
        return gw

    def servers(self) -> list[EmulatorServer]:
        return [self.ctms, *self.orgs.values()]


def _serve_gateway(settings: object, token: str | None) -> Gateway:
    from gateway.app import create_app
    from gateway.http_protocol import OneWriteHttp

    return Gateway(EmulatorServer(create_app(settings), http=OneWriteHttp).start(), settings, token)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    from emulators import idp
    from gateway.demo import configure, demo_secrets, start_stand_ins
    from gateway.settings import Settings

    # The stand-ins' credentials, where the gateways under test (and their child processes) read them.
    os.environ.update(demo_secrets({}))
    ctms, orgs = start_stand_ins(None, people=40)
    provider = EmulatorServer.for_app(idp.create_app()).start()
    db_dir = Path(tempfile.mkdtemp(prefix="ccgw-test-"))
    settings = Settings(database_url=f"sqlite:///{db_dir / 'gateway.db'}", ctms_url=ctms.url,
                        crm_timeout_s=CRM_TIMEOUT_S, ctms_timeout_s=CRM_TIMEOUT_S, poll_interval_s=0.0,
                        worker_interval_s=0.2, oidc_issuer=provider.url, oidc_jwks_cooldown_s=0.2,
                        readyz_cache_s=0.0, rate_limit_per_minute=0)  # one user drives the whole suite
    configure(settings.database_url, orgs)
    st = Stack(ctms, orgs, provider, build_world(40), settings, None)  # type: ignore[arg-type]
    st.gateway = _serve_gateway(settings, st.token(ADMIN))
    try:
        yield st
    finally:
        for gw in [*st._extra, st.gateway]:
            gw.stop()
        for server in [*st.servers(), provider]:
            server.stop()


@pytest.fixture
def gql(stack: Stack) -> Callable[..., dict]:
    return stack.gql


# -- knobs and stats ---------------------------------------------------------------------------------------

def _admin(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/_admin", timeout=10)


def set_knobs(server: EmulatorServer, **changes: object) -> dict:
    """Turn knobs over HTTP; while the port is closed ("refuse"), in-process (the admin port is closed too)."""
    state_knobs = server.config.app.state.knobs
    if state_knobs.outage == "refuse":
        state_knobs.update(changes)
        _wait_reachable(server, changes)
        return state_knobs.as_dict()
    with _admin(server) as admin:
        r = admin.put("/knobs", json=changes)
    assert r.status_code == 200, r.text
    if changes.get("outage") == "refuse":
        _wait_refusing(server)
    return r.json()


def _wait_reachable(server: EmulatorServer, changes: dict) -> None:
    if changes.get("outage", "refuse") == "refuse":
        return
    deadline = time.monotonic() + 5
    while True:
        try:
            with _admin(server) as admin:
                if admin.get("/knobs").status_code == 200:
                    return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the stand-in did not reopen its port"
        time.sleep(0.02)


def _wait_refusing(server: EmulatorServer) -> None:
    deadline = time.monotonic() + 5
    while True:
        try:
            with _admin(server) as admin:
                admin.get("/knobs")
        except httpx.TransportError:
            return
        assert time.monotonic() < deadline, "the stand-in did not close its port"
        time.sleep(0.02)


@pytest.fixture
def knobs() -> Iterator[Callable[..., dict]]:
    touched: list[EmulatorServer] = []

    def turn(server: EmulatorServer, **changes: object) -> dict:
        if server not in touched:
            touched.append(server)
        return set_knobs(server, **changes)

    yield turn
    for server in touched:
        set_knobs(server, **KNOB_DEFAULTS)


def stats_of(server: EmulatorServer) -> dict[str, int]:
    with _admin(server) as admin:
        return admin.get("/stats").json()


def reset_stats_of(server: EmulatorServer) -> None:
    with _admin(server) as admin:
        assert admin.delete("/stats").status_code == 200


@pytest.fixture(scope="session")
def stats() -> Callable[[EmulatorServer], dict[str, int]]:
    return stats_of


@pytest.fixture(scope="session")
def reset_stats() -> Callable[[EmulatorServer], None]:
    return reset_stats_of


# -- direct REST access to the stand-ins -------------------------------------------------------------------

class VaultApi:
    """The CTMS stand-in spoken to directly: a session, VQL (all pages), record writes."""

    def __init__(self, server: EmulatorServer) -> None:
        self.http = httpx.Client(base_url=server.url + CTMS_V, timeout=30)
        body = self.http.post("/auth", data=CTMS_CREDENTIALS).json()
        assert body["responseStatus"] == "SUCCESS", body
        self.http.headers["Authorization"] = body["sessionId"]

    def rows(self, q: str) -> list[dict]:
        body = self.http.post("/query", data={"q": q}).json()
        assert body["responseStatus"] == "SUCCESS", body
        rows = list(body["data"])
        while body.get("responseDetails", {}).get("next_page"):
            body = self.http.get(body["responseDetails"]["next_page"].removeprefix(CTMS_V)).json()
            rows += body["data"]
        return rows

    def write(self, obj: str, records: list[dict], **params: str) -> list[str]:
        """Create (or upsert with idParam) records; the ids, every row must succeed."""
        body = self.http.post(f"/vobjects/{obj}", json=records, params=params).json()
        assert body["responseStatus"] == "SUCCESS", body
        assert all(r["responseStatus"] == "SUCCESS" for r in body["data"]), body
        return [r["data"]["id"] for r in body["data"]]


class SalesforceApi:
    """One CRM org spoken to directly: a token, SOQL (all pages), sObject Collections."""

    def __init__(self, server: EmulatorServer) -> None:
        form = {"grant_type": "client_credentials", "client_id": CRM_CREDENTIALS["client_id"],
                "client_secret": CRM_CREDENTIALS["client_secret"]}
        token = httpx.post(f"{server.url}/services/oauth2/token", data=form).json()["access_token"]
        self.http = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {token}"})

    def records(self, q: str) -> list[dict]:
        r = self.http.get(f"{CRM_V}/query", params={"q": q})
        assert r.status_code == 200, r.text
        body = r.json()
        out = list(body["records"])
        while not body.get("done", True):
            body = self.http.get(body["nextRecordsUrl"]).json()
            out += body["records"]
        return out

    def create(self, obj: str, records: list[dict]) -> list[str]:
        """Create records through sObject Collections (200 per request); the ids, every row must succeed."""
        ids: list[str] = []
        for start in range(0, len(records), 200):
            part = [{"attributes": {"type": obj}, **r} for r in records[start:start + 200]]
            r = self.http.post(f"{CRM_V}/composite/sobjects", json={"allOrNone": True, "records": part})
            assert r.status_code == 200, r.text
            assert all(row["success"] for row in r.json()), r.text
            ids += [row["id"] for row in r.json()]
        return ids


@pytest.fixture(scope="session")
def ctms_api(stack: Stack) -> VaultApi:
    return VaultApi(stack.ctms)


@pytest.fixture(scope="session")
def crm_api(stack: Stack) -> dict[str, SalesforceApi]:
    return {name: SalesforceApi(server) for name, server in stack.orgs.items()}


# -- what the stand-ins hold, read directly: the expected timeline ------------------------------------------

CTMS_CHANNELS = {"in_person__v": "IN_PERSON", "video__v": "VIDEO", "phone__v": "PHONE", "chat_text__v": "CHAT_TEXT",
                 "email__v": "EMAIL", "other__v": "OTHER"}
CRM_CHANNELS = {"Face_to_face_vod": "IN_PERSON", "Video_vod": "VIDEO", "Phone_vod": "PHONE",
                "Message_vod": "CHAT_TEXT", "Email_vod": "EMAIL", "Other_vod": "OTHER"}
# (connection, CTMS person field, CRM account field), as gateway.demo.DEMO_CONNECTIONS configures them.
IDENTIFIERS = {"us": ("external_id__v", "External_ID_vod__c"), "eu": ("npi_number__c", "NPI_Number__c")}


def global_id(type_name: str, raw: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Expected:
    """One timeline entry as the stand-ins hold it."""

    id: str  # the global id the gateway must give it
    key: str  # the stable tie-break key: "ctms:<id>" or "crm:<org>:<call id>"
    date: str
    kind: str
    channel: str
    status: str


def _one(value: object) -> object:
    return value[0] if isinstance(value, list) and value else value


def expected_timeline(ctms_api: VaultApi, crm_api: dict[str, SalesforceApi], person_id: str,
                      medical: bool = True) -> list[Expected]:
    """The person's timeline computed from the stand-ins: newest first, ties by key, descending."""
    [person] = ctms_api.rows(f"SELECT id, external_id__v, npi_number__c FROM person__sys WHERE id = '{person_id}'")
    items: list[Expected] = []
    for rec in ctms_api.rows("SELECT id, object_type__v.api_name__v, activity_date__v, channel__v, completed__v, "
                             f"crm_org__v, crm_call_id__v FROM crm_activity__v WHERE person__v = '{person_id}'"):
        clinical = rec["object_type__v.api_name__v"] == "clinical_activity__v"
        if not clinical and (not medical or rec["crm_org__v"] in IDENTIFIERS):
            continue  # a call of a connected org is read from that org
        gid = (global_id("ClinicalActivity", rec["id"]) if clinical
               else global_id("MedicalActivity", f"{rec['crm_org__v']}:{rec['crm_call_id__v']}"))
        items.append(Expected(gid, f"ctms:{rec['id']}", rec["activity_date__v"],
                              "CLINICAL" if clinical else "MEDICAL", CTMS_CHANNELS[_one(rec["channel__v"])],
                              "COMPLETED" if rec["completed__v"] else "PLANNED"))
    for org, (ctms_field, crm_field) in IDENTIFIERS.items():
        value = person.get(ctms_field)
        if not medical or not value:
            continue
        accounts = [a["Id"] for a in crm_api[org].records(f"SELECT Id FROM Account WHERE {crm_field} = '{value}'")]
        if not accounts:
            continue
        in_list = ", ".join(f"'{a}'" for a in accounts)
        for call in crm_api[org].records(
                "SELECT Id, Call_Date_vod__c, Call_Channel_vod__c, Status_vod__c FROM Call2_vod__c "
                f"WHERE Send_To_Vault_Clinical_vod__c = true AND Account_vod__c IN ({in_list})"):
            items.append(Expected(global_id("MedicalActivity", f"{org}:{call['Id']}"), f"crm:{org}:{call['Id']}",
                                  call["Call_Date_vod__c"], "MEDICAL", CRM_CHANNELS[call["Call_Channel_vod__c"]],
                                  "COMPLETED" if call["Status_vod__c"] == "Submitted_vod" else "PLANNED"))
    items.sort(key=lambda e: (e.date, e.key), reverse=True)
    return items


TIMELINE_QUERY = """query($id: ID!, $first: Int, $after: String, $filter: TimelineFilter) {
  person(id: $id) { timeline(first: $first, after: $after, filter: $filter) {
    edges { cursor node { __typename id kind date channel status } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


def whole_timeline(gql: Callable[..., dict], person_gid: str, page: int = 100, filter: dict | None = None,
                   ) -> list[dict]:
    """Every node of a person's timeline, following endCursor; asserts no page carries errors."""
    nodes: list[dict] = []
    after = None
    for _ in range(1000):
        body = gql(TIMELINE_QUERY, {"id": person_gid, "first": page, "after": after, "filter": filter})
        assert "errors" not in body, body
        conn = body["data"]["person"]["timeline"]
        assert len(conn["edges"]) <= page
        nodes += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return nodes
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("the timeline never ended")


@pytest.fixture(scope="session")
def expected(ctms_api: VaultApi, crm_api: dict[str, SalesforceApi]) -> Callable[..., list[Expected]]:
    """`expected(person_id, medical=True)`: the person's timeline as the stand-ins hold it (see expected_timeline)."""
    return lambda person_id, medical=True: expected_timeline(ctms_api, crm_api, person_id, medical)


@pytest.fixture(scope="session")
def timeline_of(stack: Stack) -> Callable[..., list[dict]]:
    """`timeline_of(person_gid, page=100, filter=None, gql=stack.gql)`: every node, page after page."""
    return lambda person_gid, page=100, filter=None, gql=stack.gql: whole_timeline(gql, person_gid, page, filter)


@pytest.fixture(scope="session")
def gid() -> Callable[[str, str], str]:
    """`gid("Person", "0PE000000000001")`: a Relay global id, computed independently of the gateway."""
    return global_id


# Every log line of the run is scanned for personal data and tokens at the end of the session (tests/log_scan.py).
pytest_plugins = ["tests.log_scan"]
