"""The CTMS stand-in over real HTTP, as a Vault REST client would talk to it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import httpx
import pytest

from emulators.ctms import create_app
from emulators.knobs import Knobs
from emulators.seed import CTMS_CREDENTIALS, World, build_world
from emulators.server import EmulatorServer

V = "/api/v26.1"
TODAY = date(2026, 11, 26)
PASSWORD = CTMS_CREDENTIALS["password"]


class Vault:
    """A tiny Vault client: a session and helpers for query, writes and page following."""

    def __init__(self, server: EmulatorServer, username: str = CTMS_CREDENTIALS["username"]) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10)
        body = self.http.post(f"{V}/auth", data={"username": username, "password": PASSWORD}).json()
        assert body["responseStatus"] == "SUCCESS", body
        self.session_id = body["sessionId"]
        self.user_id = str(body["userId"])
        self.http.headers["Authorization"] = self.session_id

    def query(self, q: str) -> dict:
        return self.http.post(f"{V}/query", data={"q": q}).json()

    def rows(self, q: str) -> list[dict]:
        body = self.query(q)
        assert body["responseStatus"] == "SUCCESS", body
        return body["data"]

    def ids(self, q: str) -> set[str]:
        return {r["id"] for r in self.rows(q)}

    def write(self, method: str, obj: str, body: object, **params: str) -> dict:
        return self.http.request(method, f"{V}/vobjects/{obj}", json=body, params=params).json()


def _start(app_factory: Callable[[], object]) -> Iterator[EmulatorServer]:
    server = EmulatorServer(app_factory()).start()  # type: ignore[arg-type]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(40, today=TODAY)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[EmulatorServer]:
    """A stand-in only read from (plus harmless sessions), so expectations can come from the seed."""
    yield from _start(lambda: create_app(world))


@pytest.fixture(scope="module")
def vault(server: EmulatorServer) -> Vault:
    return Vault(server)


@pytest.fixture(scope="module")
def rw_server() -> Iterator[EmulatorServer]:
    """A stand-in the write tests change."""
    yield from _start(lambda: create_app(build_world(40, today=TODAY)))


@pytest.fixture(scope="module")
def rw(rw_server: EmulatorServer) -> Vault:
    return Vault(rw_server)


def activities(world: World) -> list[dict]:
    return world.ctms["crm_activity__v"]


def ids_where(world: World, obj: str, pred: Callable[[dict], bool]) -> set[str]:
    return {r["id"] for r in world.ctms[obj] if pred(r)}


# -- auth and sessions -------------------------------------------------------------------------------------

def test_auth_success_shape(server: EmulatorServer, world: World) -> None:
    r = httpx.post(f"{server.url}{V}/auth", data={"username": CTMS_CREDENTIALS["username"], "password": PASSWORD})
    body = r.json()
    assert r.status_code == 200 and body["responseStatus"] == "SUCCESS"
    assert body["userId"] == int(world.ctms["user__sys"][0]["id"])
    assert body["vaultId"] == body["vaultIds"][0]["id"]
    assert set(body["vaultIds"][0]) == {"id", "name", "url"}
    assert len(body["sessionId"]) >= 32


def test_any_seeded_user_logs_in_with_the_shared_password(server: EmulatorServer, world: World) -> None:
    user = world.ctms["user__sys"][2]
    assert Vault(server, user["username__sys"]).user_id == user["id"]


@pytest.mark.parametrize(("form", "error"), [
    ({"username": CTMS_CREDENTIALS["username"], "password": "wrong"}, "USERNAME_OR_PASSWORD_INCORRECT"),
    ({"username": "nobody@ctms.example.com", "password": PASSWORD}, "USERNAME_OR_PASSWORD_INCORRECT"),
    ({"username": CTMS_CREDENTIALS["username"]}, "NO_PASSWORD_PROVIDED"),
])
def test_auth_failures(server: EmulatorServer, form: dict, error: str) -> None:
    r = httpx.post(f"{server.url}{V}/auth", data=form)
    body = r.json()
    assert r.status_code == 200
    assert body["responseStatus"] == "FAILURE" and body["errorType"] == "AUTHENTICATION_FAILED"
    assert body["errors"][0]["type"] == error


def test_any_version_is_accepted_and_unknown_paths_fail(server: EmulatorServer, vault: Vault) -> None:
    r = httpx.post(f"{server.url}/api/v24.3/auth", data={"username": CTMS_CREDENTIALS["username"],
                                                          "password": PASSWORD})
    assert r.json()["responseStatus"] == "SUCCESS"
    for path in ("/api/v26.1/nothing/here", "/api/latest/query", "/elsewhere"):
        body = vault.http.get(path).json()
        assert body["responseStatus"] == "FAILURE" and body["errors"][0]["type"] == "MALFORMED_URL", path
    body = vault.http.patch(f"{V}/query").json()
    assert body["errors"][0]["type"] == "METHOD_NOT_SUPPORTED"


@pytest.mark.parametrize("header", [None, "", "not-a-session", "Bearer not-a-session"])
def test_missing_or_bad_session(server: EmulatorServer, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = httpx.post(f"{server.url}{V}/query", data={"q": "SELECT id FROM study__v"}, headers=headers)
    assert r.status_code == 200
    assert r.json()["responseStatus"] == "FAILURE"
    assert r.json()["errors"][0]["type"] == "INVALID_SESSION_ID"


def test_bearer_session_header(server: EmulatorServer, vault: Vault) -> None:
    r = httpx.get(f"{server.url}{V}/metadata/vobjects", headers={"Authorization": f"Bearer {vault.session_id}"})
    assert r.json()["responseStatus"] == "SUCCESS"


@pytest.mark.slow  # waits for real time to pass (an idle session expiring)
def test_idle_session_expires_and_each_call_refreshes_it() -> None:
    for server in _start(lambda: create_app(build_world(3, today=TODAY), session_idle_s=0.3)):
        client = Vault(server)
        for _ in range(4):  # 0.6 s in all, but never 0.3 s idle
            time.sleep(0.15)
            assert client.query("SELECT id FROM study__v")["responseStatus"] == "SUCCESS"
        time.sleep(0.4)
        body = client.query("SELECT id FROM study__v")
        assert body["errors"][0]["type"] == "INVALID_SESSION_ID"


def test_logout_ends_the_session(server: EmulatorServer) -> None:
    client = Vault(server)
    assert client.http.delete(f"{V}/session").json()["responseStatus"] == "SUCCESS"
    assert client.query("SELECT id FROM study__v")["errors"][0]["type"] == "INVALID_SESSION_ID"


# -- VQL ---------------------------------------------------------------------------------------------------

def _ts(d: date) -> str:
    return f"{d.isoformat()}T09:00:00.000Z"


WHERE_CASES: list[tuple[str, Callable[[dict], bool]]] = [
    ("channel__v = 'phone__v'", lambda r: r["channel__v"] == ["phone__v"]),
    ("channel__v != 'phone__v'", lambda r: r["channel__v"] != ["phone__v"]),
    ("activity_date__v < '2026-10-01'", lambda r: r["activity_date__v"] < "2026-10-01"),
    ("activity_date__v > '2026-10-01'", lambda r: r["activity_date__v"] > "2026-10-01"),
    ("activity_date__v <= '2026-10-01'", lambda r: r["activity_date__v"] <= "2026-10-01"),
    ("activity_date__v >= '2026-10-01'", lambda r: r["activity_date__v"] >= "2026-10-01"),
    ("completed__v = true", lambda r: r["completed__v"] is True),
    ("completed__v = false", lambda r: r["completed__v"] is False),
    ("person__v IN ('0PE000000000001', '0PE000000000003')",
     lambda r: r["person__v"] in ("0PE000000000001", "0PE000000000003")),
    ("person__v NOT IN ('0PE000000000001')", lambda r: r["person__v"] != "0PE000000000001"),
    ("channel__v CONTAINS ('phone__v', 'video__v')", lambda r: r["channel__v"][0] in ("phone__v", "video__v")),
    ("subject__v LIKE '%UPDATE%'", lambda r: "update" in r["subject__v"].lower()),
    ("subject__v LIKE 'protocol%'", lambda r: r["subject__v"].lower().startswith("protocol")),
    ("subject__v NOT LIKE '%a%'", lambda r: "a" not in r["subject__v"].lower()),
    ("study__v = null", lambda r: r["study__v"] is None),
    ("study__v != null", lambda r: r["study__v"] is not None),
    ("(channel__v = 'phone__v' OR channel__v = 'email__v') AND completed__v = true",
     lambda r: r["channel__v"][0] in ("phone__v", "email__v") and r["completed__v"]),
    ("channel__v = 'phone__v' OR channel__v = 'email__v' AND completed__v = true",
     lambda r: r["channel__v"][0] == "phone__v" or (r["channel__v"][0] == "email__v" and r["completed__v"])),
    ("NOT (completed__v = true)", lambda r: not r["completed__v"]),
    (f"modified_date__v > '{_ts(TODAY - timedelta(days=30))}'",
     lambda r: r["modified_date__v"] > _ts(TODAY - timedelta(days=30))),
    ("object_type__v.api_name__v = 'clinical_activity__v'", lambda r: True),
    ("object_type__vr.api_name__v = 'medical_activity__v'", lambda r: False),
    ("person__vr.last_name__sys LIKE 'o\\'b%'", lambda r: r["person__v"] in {
        p["id"] for p in PEOPLE if p["last_name__sys"] == "O'Brien"}),
]
PEOPLE = build_world(40, today=TODAY).ctms["person__sys"]


@pytest.mark.parametrize(("where", "pred"), WHERE_CASES, ids=[w for w, _ in WHERE_CASES])
def test_vql_where_operators(vault: Vault, world: World, where: str, pred: Callable[[dict], bool]) -> None:
    expected = ids_where(world, "crm_activity__v", pred)
    assert vault.ids(f"SELECT id FROM crm_activity__v WHERE {where}") == expected


def test_vql_escaped_quote_number_literal_and_case_insensitive_keywords(vault: Vault, world: World) -> None:
    assert vault.ids("select id from person__sys where last_name__sys = 'O\\'Brien'") == ids_where(
        world, "person__sys", lambda p: p["last_name__sys"] == "O'Brien")
    site = world.ctms["site__v"][2]
    assert vault.ids(f"SELECT id FROM site__v WHERE site_number__v = {site['site_number__v']}") == {site["id"]}


def test_vql_field_shapes(vault: Vault, world: World) -> None:
    seeded = activities(world)[0]
    [row] = vault.rows("SELECT id, name__v, object_type__v, object_type__v.api_name__v, channel__v, status__v, "
                       "person__v, person__vr.name__v, activity_date__v, completed__v, modified_date__v "
                       f"FROM crm_activity__v WHERE id = '{seeded['id']}'")
    assert row["name__v"] == seeded["name__v"]
    assert row["object_type__v"].startswith("OOT")
    assert row["object_type__v.api_name__v"] == "clinical_activity__v"
    assert row["channel__v"] == seeded["channel__v"] and row["status__v"] == ["active__v"]
    assert row["person__v"] == seeded["person__v"]
    person = next(p for p in world.ctms["person__sys"] if p["id"] == seeded["person__v"])
    assert row["person__vr.name__v"] == person["name__v"]
    assert row["activity_date__v"] == seeded["activity_date__v"]
    assert row["completed__v"] is seeded["completed__v"]
    assert row["modified_date__v"] == seeded["modified_date__v"]


def test_vql_order_by_several_fields(vault: Vault, world: World) -> None:
    rows = vault.rows("SELECT id, channel__v, activity_date__v FROM crm_activity__v "
                      "ORDER BY channel__v ASC, activity_date__v DESC")
    expected = sorted(activities(world), key=lambda r: r["id"])
    expected.sort(key=lambda r: r["activity_date__v"], reverse=True)
    expected.sort(key=lambda r: r["channel__v"][0])
    assert [r["id"] for r in rows] == [r["id"] for r in expected]


def test_vql_paging_follows_next_page_by_post_to_the_end(vault: Vault, world: World) -> None:
    body = vault.query("SELECT id FROM crm_activity__v ORDER BY activity_date__v PAGESIZE 25")
    details = body["responseDetails"]
    total = len(activities(world))
    assert details["pagesize"] == 25 and details["pageoffset"] == 0 and details["total"] == total
    assert "previous_page" not in details
    seen = [r["id"] for r in body["data"]]
    pages = 1
    while "next_page" in details:
        assert details["next_page"].startswith(f"{V}/query/")
        body = vault.http.post(details["next_page"]).json()
        details = body["responseDetails"]
        assert details["previous_page"]
        seen += [r["id"] for r in body["data"]]
        pages += 1
    assert len(seen) == total and set(seen) == {r["id"] for r in activities(world)}
    assert pages == -(-total // 25)
    again = vault.http.get(details["previous_page"]).json()
    assert again["responseDetails"]["pageoffset"] == details["pageoffset"] - 25


def test_vql_pageoffset_and_pagesize_cap(vault: Vault) -> None:
    all_ids = [r["id"] for r in vault.rows("SELECT id FROM crm_activity__v ORDER BY id")]
    body = vault.query("SELECT id FROM crm_activity__v ORDER BY id PAGESIZE 5 PAGEOFFSET 10")
    assert [r["id"] for r in body["data"]] == all_ids[10:15]
    assert body["responseDetails"]["pageoffset"] == 10
    assert vault.query("SELECT id FROM person__sys PAGESIZE 5000")["responseDetails"]["pagesize"] == 1000


def test_vql_q_in_the_query_string(vault: Vault, world: World) -> None:
    body = vault.http.get(f"{V}/query", params={"q": "SELECT id FROM study__v"}).json()
    assert {r["id"] for r in body["data"]} == {s["id"] for s in world.ctms["study__v"]}


@pytest.mark.parametrize(("q", "error"), [
    ("SELECT id crm_activity__v", "INCORRECT_QUERY_SYNTAX_ERROR"),
    ("SELECT FROM crm_activity__v", "INCORRECT_QUERY_SYNTAX_ERROR"),
    ("SELECT id FROM crm_activity__v WHERE subject__v = 'open", "INCORRECT_QUERY_SYNTAX_ERROR"),
    ("SELECT id FROM crm_activity__v WHERE (completed__v = true", "INCORRECT_QUERY_SYNTAX_ERROR"),
    ("SELECT id FROM crm_activity__v ORDER BY", "INCORRECT_QUERY_SYNTAX_ERROR"),
    ("SELECT id FROM crm_activity__v PAGESIZE 10 extra", "INCORRECT_QUERY_SYNTAX_ERROR"),
    ("SELECT id FROM crm_activity__v WHERE study__v > null", "INCORRECT_QUERY_SYNTAX_ERROR"),
    ("SELECT id FROM nothing__v", "INVALID_DATA"),
    ("SELECT id, bogus__c FROM crm_activity__v", "INVALID_DATA"),
    ("SELECT id FROM crm_activity__v WHERE bogus__c = 'x'", "INVALID_DATA"),
    ("SELECT id FROM crm_activity__v ORDER BY bogus__c", "INVALID_DATA"),
    ("SELECT id, person__vr.bogus__c FROM crm_activity__v", "INVALID_DATA"),
    ("SELECT id FROM crm_activity__v WHERE activity_date__v > 'yesterday'", "INVALID_DATA"),
    ("SELECT id FROM crm_activity__v WHERE completed__v = 'maybe'", "INVALID_DATA"),
    ("", "PARAMETER_REQUIRED"),
])
def test_vql_errors(vault: Vault, q: str, error: str) -> None:
    body = vault.query(q)
    assert body["responseStatus"] == "FAILURE"
    assert body["errors"][0]["type"] == error, body


# -- records -----------------------------------------------------------------------------------------------

def clinical(world: World, **fields: object) -> dict:
    person = world.ctms["person__sys"][5]
    row = {"object_type__v.api_name__v": "clinical_activity__v", "person__v": person["id"],
           "study__v": world.ctms["study__v"][0]["id"], "activity_date__v": "2026-11-20",
           "channel__v": "phone__v", "completed__v": True, "subject__v": "Created by a test"}
    row.update(fields)
    return {k: v for k, v in row.items() if v is not ...}


def medical(world: World, call_id: str, **fields: object) -> dict:
    row = {"object_type__v.api_name__v": "medical_activity__v", "person__v": world.ctms["person__sys"][6]["id"],
           "activity_date__v": "2026-11-21", "channel__v": ["video__v"], "completed__v": False,
           "crm_org__v": "us", "crm_call_id__v": call_id, "crm_call_key__v": f"us:{call_id}"}
    row.update(fields)
    return row


def test_create_then_read_back(rw: Vault, world: World) -> None:
    body = rw.write("POST", "crm_activity__v", [clinical(world)])
    assert body["responseStatus"] == "SUCCESS"
    row = body["data"][0]
    assert row["responseStatus"] == "SUCCESS"
    new_id = row["data"]["id"]
    assert row["data"]["url"] == f"{V}/vobjects/crm_activity__v/{new_id}"
    assert new_id > max(r["id"] for r in activities(world))
    rec = rw.http.get(f"{V}/vobjects/crm_activity__v/{new_id}").json()
    assert rec["responseStatus"] == "SUCCESS"
    data = rec["data"]
    assert data["name__v"] == f"ACT-{len(activities(world)) + 1:06d}"
    assert data["created_by__v"] == rw.user_id == data["modified_by__v"]
    assert data["channel__v"] == ["phone__v"] and data["status__v"] == ["active__v"]
    assert data["completed__v"] is True and data["activity_date__v"] == "2026-11-20"
    [q] = rw.rows(f"SELECT id, object_type__v.api_name__v FROM crm_activity__v WHERE id = '{new_id}'")
    assert q["object_type__v.api_name__v"] == "clinical_activity__v"


def test_writes_remember_the_session_user(rw_server: EmulatorServer, world: World) -> None:
    user = world.ctms["user__sys"][3]
    other = Vault(rw_server, user["username__sys"])
    new_id = other.write("POST", "crm_activity__v", clinical(world))["data"][0]["data"]["id"]
    [row] = other.rows(f"SELECT created_by__v, modified_by__v FROM crm_activity__v WHERE id = '{new_id}'")
    assert row == {"created_by__v": user["id"], "modified_by__v": user["id"]}


def test_create_reports_failures_per_row(rw: Vault, world: World) -> None:
    s0 = world.ctms["study__v"][0]["id"]
    rows = [
        clinical(world),
        clinical(world, activity_date__v=...),
        clinical(world, channel__v="carrier_pigeon__c"),
        clinical(world, bogus__c="x"),
        clinical(world, activity_date__v="26/11/2026"),
        clinical(world, completed__v="sometimes"),
        clinical(world, subject__v="x" * 256),
        clinical(world, person__v="0PE999999999999"),
        clinical(world, site__v=world.ctms["site__v"][0]["id"]),
        clinical(world, study__v=None),
        clinical(world, name__v="ACT-999999"),
        clinical(world, **{"object_type__v.api_name__v": "surgical_activity__v"}),
        medical(world, "a0C0U000000001"),
        clinical(world, **{"object_type__v.api_name__v": ..., "object_type__v": "OOT000000000001",
                           "study__v": s0}),
        clinical(world, channel__v=["phone__v", "video__v"]),
    ]
    body = rw.write("POST", "crm_activity__v", rows)
    assert body["responseStatus"] == "SUCCESS"
    results = body["data"]
    assert len(results) == len(rows)
    status = [r["responseStatus"] for r in results]
    assert status == ["SUCCESS"] + ["FAILURE"] * 11 + ["SUCCESS", "SUCCESS", "FAILURE"]
    types = [r["errors"][0]["type"] for r in results if r["responseStatus"] == "FAILURE"]
    assert types == ["PARAMETER_REQUIRED"] + ["INVALID_DATA"] * 11
    messages = [r["errors"][0]["message"] for r in results if r["responseStatus"] == "FAILURE"]
    assert "activity_date__v" in messages[0]
    assert "carrier_pigeon__c" in messages[1] and "bogus__c" in messages[2]
    assert "exactly one context" in messages[7] and "exactly one context" in messages[8]


def test_required_fields_of_other_objects(rw: Vault, world: World) -> None:
    body = rw.write("POST", "person__sys", [{"name__v": "No Last Name"}, {"last_name__sys": "Nameless"}])
    assert [r["errors"][0]["type"] for r in body["data"]] == ["PARAMETER_REQUIRED", "PARAMETER_REQUIRED"]
    assert "last_name__sys" in body["data"][0]["errors"][0]["message"]
    assert "name__v" in body["data"][1]["errors"][0]["message"]
    created = rw.write("POST", "person__sys", {"name__v": "Ada Lovelace", "last_name__sys": "Lovelace",
                                               "external_id__v": "EXT-NEW-1"})
    assert created["data"][0]["data"]["id"] == f"0PE{len(world.ctms['person__sys']) + 1:012d}"


def test_unique_fields(rw: Vault, world: World) -> None:
    taken = world.ctms["person__sys"][0]["external_id__v"]
    body = rw.write("POST", "person__sys", [
        {"name__v": "Dup", "last_name__sys": "Dup", "external_id__v": taken},
        {"name__v": "Fresh", "last_name__sys": "Fresh", "external_id__v": "EXT-UNIQUE-2"},
        {"name__v": "Fresh again", "last_name__sys": "Fresh", "external_id__v": "EXT-UNIQUE-2"},
    ])
    assert [r["responseStatus"] for r in body["data"]] == ["FAILURE", "SUCCESS", "FAILURE"]
    assert "external_id__v" in body["data"][0]["errors"][0]["message"]
    marker = rw.write("POST", "crm_activity__v", [clinical(world, gateway_request__v="req-1"),
                                                  clinical(world, gateway_request__v="req-1")])
    assert [r["responseStatus"] for r in marker["data"]] == ["SUCCESS", "FAILURE"]


def test_upsert_creates_then_updates_without_duplicates(rw: Vault, world: World) -> None:
    first = rw.write("POST", "crm_activity__v", [medical(world, "a0C0U000000777")], idParam="crm_call_key__v")
    row = first["data"][0]
    assert row["responseStatus"] == "SUCCESS" and row["data"]["event"] == "created__sys"
    second = rw.write("POST", "crm_activity__v", [medical(world, "a0C0U000000777", subject__v="Now with a subject")],
                      idParam="crm_call_key__v")
    row2 = second["data"][0]
    assert row2["data"]["event"] == "updated__sys" and row2["data"]["id"] == row["data"]["id"]
    rows = rw.rows("SELECT id, subject__v FROM crm_activity__v WHERE crm_call_key__v = 'us:a0C0U000000777'")
    assert rows == [{"id": row["data"]["id"], "subject__v": "Now with a subject"}]
    missing_key = rw.write("POST", "crm_activity__v", [medical(world, "x", crm_call_key__v=None)],
                           idParam="crm_call_key__v")
    assert missing_key["data"][0]["errors"][0]["type"] == "PARAMETER_REQUIRED"
    not_unique = rw.write("POST", "crm_activity__v", [medical(world, "y")], idParam="subject__v")
    assert not_unique["responseStatus"] == "FAILURE"


def test_update_changes_fields_and_bumps_modified_date(rw: Vault, world: World) -> None:
    target = activities(world)[3]
    body = rw.write("PUT", "crm_activity__v", [
        {"id": target["id"], "subject__v": "Renamed", "channel__v": ["email__v"]},
        {"subject__v": "no id"},
        {"id": "0AC999999999999", "subject__v": "ghost"},
        {"id": target["id"], "study__v": world.ctms["study__v"][0]["id"], "site__v": world.ctms["site__v"][0]["id"]},
    ])
    assert [r["responseStatus"] for r in body["data"]] == ["SUCCESS", "FAILURE", "FAILURE", "FAILURE"]
    assert body["data"][1]["errors"][0]["type"] == "PARAMETER_REQUIRED"
    assert "does not exist" in body["data"][2]["errors"][0]["message"]
    [row] = rw.rows(f"SELECT subject__v, channel__v, modified_date__v, modified_by__v, created_date__v "
                    f"FROM crm_activity__v WHERE id = '{target['id']}'")
    assert row["subject__v"] == "Renamed" and row["channel__v"] == ["email__v"]
    assert row["modified_date__v"] > target["modified_date__v"] and row["modified_by__v"] == rw.user_id
    assert row["created_date__v"] == target["created_date__v"]


def test_modified_dates_strictly_increase_and_can_be_polled(rw: Vault, world: World) -> None:
    before = rw.rows("SELECT modified_date__v FROM crm_activity__v ORDER BY modified_date__v DESC PAGESIZE 1")
    mark = before[0]["modified_date__v"]
    body = rw.write("POST", "crm_activity__v", [clinical(world, subject__v=f"burst {i}") for i in range(60)])
    new_ids = {r["data"]["id"] for r in body["data"]}
    rows = rw.rows(f"SELECT id, modified_date__v FROM crm_activity__v WHERE modified_date__v > '{mark}' "
                   "ORDER BY modified_date__v")
    assert {r["id"] for r in rows} == new_ids
    stamps = [r["modified_date__v"] for r in rows]
    assert len(set(stamps)) == 60 and stamps == sorted(stamps)
    assert all(len(s) == 24 and s.endswith("Z") for s in stamps)


def test_delete_rows_and_referenced_records(rw: Vault, world: World) -> None:
    new_id = rw.write("POST", "crm_activity__v", clinical(world))["data"][0]["data"]["id"]
    person = world.ctms["person__sys"][0]["id"]
    body = rw.write("DELETE", "crm_activity__v", [{"id": new_id}, {"id": "0AC999999999999"}, {}])
    assert [r["responseStatus"] for r in body["data"]] == ["SUCCESS", "FAILURE", "FAILURE"]
    gone = rw.http.get(f"{V}/vobjects/crm_activity__v/{new_id}").json()
    assert gone["responseStatus"] == "FAILURE" and gone["errors"][0]["type"] == "INVALID_DATA"
    referenced = rw.write("DELETE", "person__sys", [{"id": person}])
    assert referenced["data"][0]["responseStatus"] == "FAILURE"
    assert "referenced" in referenced["data"][0]["errors"][0]["message"]


def test_batches_over_500_are_refused(rw: Vault, world: World) -> None:
    count = len(rw.rows("SELECT id FROM crm_activity__v"))
    body = rw.write("POST", "crm_activity__v", [clinical(world)] * 501)
    assert body["responseStatus"] == "FAILURE" and body["errors"][0]["type"] == "INVALID_DATA"
    assert len(rw.rows("SELECT id FROM crm_activity__v")) == count
    ok = rw.write("POST", "crm_activity__v", [clinical(world)] * 500)
    assert all(r["responseStatus"] == "SUCCESS" for r in ok["data"])


def test_write_errors_at_request_level(rw: Vault) -> None:
    assert rw.write("POST", "nothing__v", [{"name__v": "x"}])["errors"][0]["type"] == "INVALID_DATA"
    bad_json = rw.http.post(f"{V}/vobjects/study__v", content=b"{not json",
                            headers={"Content-Type": "application/json"}).json()
    assert bad_json["responseStatus"] == "FAILURE"


def test_a_database_file_keeps_records_and_counters_across_restarts(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/ctms.db"
    ids = []
    for _ in range(2):
        for server in _start(lambda: create_app(build_world(3, today=TODAY), db_url=url)):
            body = Vault(server).write("POST", "study__v", {"name__v": "Restart study"})
            ids.append(body["data"][0]["data"]["id"])
            names = [r["name__v"] for r in Vault(server).rows("SELECT name__v FROM study__v")]
    assert ids == ["0ST000000000004", "0ST000000000005"]
    assert names.count("Restart study") == 2


# -- metadata ----------------------------------------------------------------------------------------------

def test_metadata(vault: Vault) -> None:
    listing = vault.http.get(f"{V}/metadata/vobjects").json()
    names = {o["name"] for o in listing["objects"]}
    assert names == {"user__sys", "person__sys", "study__v", "study_country__v", "site__v", "study_person__clin",
                     "crm_activity__v"}
    assert all(o["url"].startswith(f"{V}/metadata/vobjects/") and o["label"] for o in listing["objects"])
    obj = vault.http.get(f"{V}/metadata/vobjects/crm_activity__v").json()["object"]
    fields = {f["name"]: f for f in obj["fields"]}
    assert obj["label"] == "Activity"
    assert fields["channel__v"]["type"] == "Picklist" and fields["channel__v"]["required"] is True
    assert fields["person__v"]["object"]["name"] == "person__sys" and fields["person__v"]["required"]
    assert fields["crm_call_key__v"]["unique"] and fields["crm_call_key__v"]["max_length"] == 120
    assert fields["subject__v"]["max_length"] == 255 and fields["activity_date__v"]["type"] == "Date"
    assert fields["completed__v"]["type"] == "Boolean" and fields["modified_date__v"]["type"] == "DateTime"
    assert {t["api_name"] for t in obj["object_types"]} == {"clinical_activity__v", "medical_activity__v"}
    values = vault.http.get(f"{V}/objects/picklists/{fields['channel__v']['picklist']}").json()["picklistValues"]
    assert {v["name"]: v["label"] for v in values}["chat_text__v"] == "Chat/Text"
    unknown = vault.http.get(f"{V}/metadata/vobjects/nothing__v").json()
    assert unknown["errors"][0]["type"] == "INVALID_DATA"


# -- burst limit -------------------------------------------------------------------------------------------

@pytest.mark.slow  # waits for real time to pass (the burst window)
def test_burst_headers_and_delay() -> None:
    factory = lambda: create_app(build_world(3, today=TODAY), burst_limit=3, burst_delay_ms=300,  # noqa: E731
                                 auth_burst_limit=4)
    for server in _start(factory):
        client = Vault(server)  # call 1 of 3
        remaining = []
        for _ in range(2):
            r = client.http.get(f"{V}/metadata/vobjects")
            assert r.headers["X-VaultAPI-BurstLimit"] == "3"
            remaining.append(r.headers["X-VaultAPI-BurstLimitRemaining"])
            assert "X-VaultAPI-ResponseDelay" not in r.headers
        assert remaining == ["1", "0"]
        start = time.monotonic()
        r = client.http.get(f"{V}/metadata/vobjects")
        assert time.monotonic() - start >= 0.3
        assert r.headers["X-VaultAPI-ResponseDelay"] == "300ms" and r.json()["responseStatus"] == "SUCCESS"
        # /auth has its own burst: delayed past half, refused once it is used up.
        form = {"username": CTMS_CREDENTIALS["username"], "password": PASSWORD}
        results = [httpx.post(f"{server.url}{V}/auth", data=form).json() for _ in range(4)]
        assert [b["responseStatus"] for b in results] == ["SUCCESS", "SUCCESS", "SUCCESS", "FAILURE"]
        assert results[-1]["errors"][0]["type"] == "API_LIMIT_EXCEEDED"
        # The knob's rate_limit takes over the burst limit at runtime.
        httpx.put(f"{server.url}/_admin/knobs", json={"rate_limit": 1000, "rate_window_s": 60})
        r = client.http.get(f"{V}/metadata/vobjects")
        assert r.headers["X-VaultAPI-BurstLimit"] == "1000" and "X-VaultAPI-ResponseDelay" not in r.headers


# -- knobs and stats ---------------------------------------------------------------------------------------

@pytest.fixture()
def knobbed() -> Iterator[EmulatorServer]:
    knobs = Knobs()
    server = EmulatorServer(create_app(build_world(3, today=TODAY), knobs=knobs)).start()
    knobs.on_outage_change = lambda outage: server.set_outage(outage)  # a bound method breaks Knobs.as_dict
    yield server
    server.stop()


@pytest.mark.slow  # waits for real time to pass (latency knobs)
def test_knobs_latency_outage_failure_and_refuse(knobbed: EmulatorServer) -> None:
    client = Vault(knobbed)
    admin = httpx.Client(base_url=knobbed.url, timeout=5)

    def call() -> httpx.Response:
        with httpx.Client(base_url=knobbed.url, timeout=5, headers=client.http.headers) as fresh:
            return fresh.post(f"{V}/query", data={"q": "SELECT id FROM study__v"})

    assert admin.put("/_admin/knobs", json={"latency_ms": 200}).status_code == 200
    start = time.monotonic()
    assert call().json()["responseStatus"] == "SUCCESS"
    assert time.monotonic() - start >= 0.2
    assert admin.put("/_admin/knobs", json={"latency_ms": 0, "outage": "503"}).json()["outage"] == "503"
    assert call().status_code == 503
    admin.put("/_admin/knobs", json={"outage": None, "failure_rate": 1.0})
    assert call().status_code == 503
    admin.put("/_admin/knobs", json={"failure_rate": 0.0, "outage": "refuse"})
    time.sleep(0.1)
    with pytest.raises(httpx.ConnectError):
        call()
    knobbed.resume()
    time.sleep(0.1)
    admin.close()
    admin = httpx.Client(base_url=knobbed.url, timeout=5)
    admin.put("/_admin/knobs", json={"outage": None})
    assert call().json()["responseStatus"] == "SUCCESS"
    admin.close()


def test_stats_count_requests_per_route(knobbed: EmulatorServer) -> None:
    httpx.delete(f"{knobbed.url}/_admin/stats")
    client = Vault(knobbed)
    for _ in range(3):
        client.query("SELECT id FROM study__v")
    client.http.get(f"{V}/vobjects/study__v/0ST000000000001")
    stats = httpx.get(f"{knobbed.url}/_admin/stats").json()
    assert stats["POST /api/v26.1/query"] == 3 and stats["POST /api/v26.1/auth"] == 1
    assert stats["GET /api/v26.1/vobjects/study__v"] == 1
    assert stats["requests"] == 5


def test_deleted_record_ids_are_kept_for_the_deletions_api(rw: Vault) -> None:
    [row] = rw.rows("SELECT id FROM crm_activity__v WHERE object_type__v = 'clinical_activity__v' PAGESIZE 1")
    before = rw.http.get(f"{V}/objects/deletions/vobjects/crm_activity__v").json()
    assert before["responseStatus"] == "SUCCESS"
    assert rw.write("DELETE", "crm_activity__v", [{"id": row["id"]}])["data"][0]["responseStatus"] == "SUCCESS"
    after = rw.http.get(f"{V}/objects/deletions/vobjects/crm_activity__v").json()
    [new] = [d for d in after["data"] if d not in before["data"]]
    assert new["id"] == row["id"] and new["date_deleted"].endswith("Z")
    later = rw.http.get(f"{V}/objects/deletions/vobjects/crm_activity__v",
                        params={"start_date": "2999-01-01T00:00:00Z"}).json()
    assert later["data"] == [] and later["responseDetails"]["total"] == 0
    bad = rw.http.get(f"{V}/objects/deletions/vobjects/crm_activity__v", params={"start_date": "soon"}).json()
    assert bad["responseStatus"] == "FAILURE" and bad["errors"][0]["type"] == "INVALID_DATA"
