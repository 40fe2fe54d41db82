"""The CRM stand-in over real HTTP, as a Salesforce REST client would talk to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from emulators.crm import create_app
from emulators.knobs import Knobs
from emulators.seed import CRM_CREDENTIALS, build_world
from emulators.server import EmulatorServer

V = "/services/data/v66.0"
TODAY = date.today()
CLIENT = {"client_id": CRM_CREDENTIALS["client_id"], "client_secret": CRM_CREDENTIALS["client_secret"]}


def get_token(url: str, **extra: str) -> httpx.Response:
    return httpx.post(f"{url}/services/oauth2/token", data={"grant_type": "client_credentials", **CLIENT, **extra})


class Org:
    """A tiny Salesforce client: a bearer token and JSON helpers."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        body = get_token(server.url).json()
        self.user_id = body["id"].rsplit("/", 1)[1]
        self.http = httpx.Client(base_url=server.url + V, timeout=10,
                                 headers={"Authorization": f"Bearer {body['access_token']}"})

    def query(self, q: str, **headers: str) -> httpx.Response:
        return self.http.get("/query", params={"q": q}, headers=headers)

    def records(self, q: str) -> list[dict]:
        r = self.query(q)
        assert r.status_code == 200, r.text
        return r.json()["records"]

    def create(self, obj: str, body: dict) -> httpx.Response:
        return self.http.post(f"/sobjects/{obj}/", json=body)

    def account(self, ext: str = "EXT-000001") -> str:
        return self.records(f"SELECT Id FROM Account WHERE External_ID_vod__c = '{ext}'")[0]["Id"]

    def call(self, **fields: object) -> dict:
        body = {"Account_vod__c": self.account(), "Call_Date_vod__c": TODAY.isoformat(),
                "Status_vod__c": "Saved_vod", "Call_Channel_vod__c": "Phone_vod", **fields}
        return body


@pytest.fixture(scope="module")
def knobs() -> Knobs:
    return Knobs()


@pytest.fixture(scope="module")
def server(knobs: Knobs) -> Iterator[EmulatorServer]:
    srv = EmulatorServer(create_app("us", build_world(40), knobs=knobs)).start()
    knobs.on_outage_change = lambda outage: srv.set_outage(outage)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def org(server: EmulatorServer) -> Org:
    return Org(server)


def errors_of(r: httpx.Response) -> list[str]:
    return [e["errorCode"] for e in r.json()]


# OAuth and sessions

def test_client_credentials_token_shape(server: EmulatorServer) -> None:
    r = get_token(server.url)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["token_type"] == "Bearer" and body["instance_url"] == server.url
    assert body["id"].startswith(f"{server.url}/id/00D") and body["id"].endswith("/0050U000000001AAAA")
    assert body["issued_at"].isdigit() and abs(int(body["issued_at"]) / 1000 - time.time()) < 60


def test_password_grant_and_failures(server: EmulatorServer) -> None:
    user = {"username": CRM_CREDENTIALS["username"], "password": CRM_CREDENTIALS["password"]}
    assert get_token(server.url, grant_type="password", **user).status_code == 200
    bad = get_token(server.url, grant_type="password", username=user["username"], password="nope")
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    unknown = get_token(server.url, grant_type="password", username="who@example.com", password=user["password"])
    assert unknown.json()["error"] == "invalid_grant"
    assert get_token(server.url, client_secret="wrong").json()["error"] == "invalid_client"
    assert get_token(server.url, client_id="wrong").json()["error"] == "invalid_client_id"
    assert get_token(server.url, grant_type="authorization_code").json()["error"] == "unsupported_grant_type"


def test_bad_token_is_401(server: EmulatorServer) -> None:
    for headers in ({"Authorization": "Bearer nope"}, {}):
        r = httpx.get(f"{server.url}{V}/sobjects/", headers=headers)
        assert r.status_code == 401
        assert r.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@pytest.mark.slow  # waits for real time to pass (a token expiring)
def test_expired_token_is_401() -> None:
    srv = EmulatorServer(create_app("eu", build_world(5), token_ttl_s=0.3)).start()
    try:
        token = get_token(srv.url).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{srv.url}{V}/sobjects/", headers=headers).status_code == 200
        time.sleep(0.4)
        r = httpx.get(f"{srv.url}{V}/sobjects/", headers=headers)
        assert r.status_code == 401 and errors_of(r) == ["INVALID_SESSION_ID"]
    finally:
        srv.stop()


def test_versions_and_limit_header(server: EmulatorServer, org: Org) -> None:
    versions = httpx.get(f"{server.url}/services/data/").json()
    assert versions[-1] == {"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"}
    first = org.http.get("/limits")
    second = org.http.get("/limits")
    used = [int(r.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0]) for r in (first, second)]
    assert used[1] == used[0] + 1 and first.headers["Sforce-Limit-Info"].endswith("/100000")
    assert org.http.get("/sobjects/Nope/describe").headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert httpx.get(f"{server.url}/services/data/v99.0/sobjects/").status_code == 404


# SOQL

def test_query_shape_and_parent_fields(org: Org) -> None:
    r = org.query("SELECT Id, Name, Account_vod__r.Name, Account_vod__r.External_ID_vod__c FROM Call2_vod__c "
                  "WHERE Account_vod__r.External_ID_vod__c = 'EXT-000001' ORDER BY Name")
    body = r.json()
    assert body["done"] is True and body["totalSize"] == len(body["records"]) > 0
    rec = body["records"][0]
    assert rec["attributes"] == {"type": "Call2_vod__c", "url": f"{V}/sobjects/Call2_vod__c/{rec['Id']}"}
    parent = rec["Account_vod__r"]
    assert parent["attributes"]["type"] == "Account" and parent["External_ID_vod__c"] == "EXT-000001"
    assert list(rec) == ["attributes", "Id", "Name", "Account_vod__r"]
    owner = org.records("SELECT Owner.Username FROM Call2_vod__c LIMIT 1")[0]
    assert owner["Owner"]["Username"].endswith("@us.crm.example.com")


def test_query_operators(org: Org) -> None:
    calls = org.records("SELECT Id, Name, Status_vod__c, Call_Date_vod__c, Call_Datetime_vod__c, Subject_vod__c, "
                        "Send_To_Vault_Clinical_vod__c, Account_vod__c FROM Call2_vod__c")
    by = {c["Id"]: c for c in calls}

    def ids(where: str) -> set[str]:
        return {r["Id"] for r in org.records(f"SELECT Id FROM Call2_vod__c WHERE {where}")}

    def expect(pred: object) -> set[str]:
        return {i for i, c in by.items() if pred(c)}  # type: ignore[operator]

    day = TODAY.isoformat()
    assert ids("Status_vod__c = 'Planned_vod'") == expect(lambda c: c["Status_vod__c"] == "Planned_vod")
    assert ids("Status_vod__c != 'Planned_vod'") == expect(lambda c: c["Status_vod__c"] != "Planned_vod")
    assert ids("Status_vod__c <> 'Planned_vod'") == ids("Status_vod__c != 'Planned_vod'")
    assert ids(f"Call_Date_vod__c > {day}") == expect(lambda c: c["Call_Date_vod__c"] > day)
    assert ids(f"Call_Date_vod__c >= {day}") == expect(lambda c: c["Call_Date_vod__c"] >= day)
    assert ids(f"Call_Date_vod__c < {day}") == expect(lambda c: c["Call_Date_vod__c"] < day)
    assert ids(f"Call_Date_vod__c <= {day}") == expect(lambda c: c["Call_Date_vod__c"] <= day)
    assert ids(f"Call_Datetime_vod__c < {day}T00:00:00Z") == expect(lambda c: c["Call_Datetime_vod__c"] < day)
    assert ids(f"Call_Datetime_vod__c < {day}T02:00:00+0200") == ids(f"Call_Datetime_vod__c < {day}T00:00:00Z")
    assert ids("Status_vod__c IN ('Planned_vod', 'Saved_vod')") == expect(
        lambda c: c["Status_vod__c"] in ("Planned_vod", "Saved_vod"))
    assert ids("Status_vod__c NOT IN ('Planned_vod', 'Saved_vod')") == expect(
        lambda c: c["Status_vod__c"] == "Submitted_vod")
    assert ids("Send_To_Vault_Clinical_vod__c = true") == expect(lambda c: c["Send_To_Vault_Clinical_vod__c"])
    assert ids("Send_To_Vault_Clinical_vod__c = FALSE") == expect(lambda c: not c["Send_To_Vault_Clinical_vod__c"])
    assert ids("subject_vod__c like '%UPDATE%'") == expect(lambda c: "update" in c["Subject_vod__c"].lower())
    assert ids("NOT Subject_vod__c LIKE 'S%'") == expect(lambda c: not c["Subject_vod__c"].startswith("S"))
    assert ids("(Status_vod__c = 'Planned_vod' OR Status_vod__c = 'Saved_vod') AND NOT "
               "(Send_To_Vault_Clinical_vod__c = true)") == expect(
        lambda c: c["Status_vod__c"] in ("Planned_vod", "Saved_vod") and not c["Send_To_Vault_Clinical_vod__c"])
    assert ids("Gateway_Request_Id__c = null") == set(by)
    assert ids("Gateway_Request_Id__c != null") == set()
    some = list(by)[:3]
    assert ids(f"Id IN ('{some[0]}', '{some[1]}', '{some[2][:15]}')") == set(some)
    accounts = org.records("SELECT Id, Name FROM Account WHERE LastName = 'O\\'Brien'")
    assert accounts and all("O'Brien" in a["Name"] for a in accounts)
    assert org.records("SELECT Id FROM Account WHERE Name LIKE 'ai\\_ko%'") == []


def test_order_limit_offset_and_count(org: Org) -> None:
    rows = org.records("SELECT Id, Call_Date_vod__c FROM Call2_vod__c ORDER BY Call_Date_vod__c DESC, Id ASC")
    dates = [r["Call_Date_vod__c"] for r in rows]
    assert dates == sorted(dates, reverse=True)
    page = org.records("SELECT Id FROM Call2_vod__c ORDER BY Call_Date_vod__c DESC, Id ASC LIMIT 5 OFFSET 3")
    assert [r["Id"] for r in page] == [r["Id"] for r in rows[3:8]]
    nulls = org.records("SELECT Id, NPI_Number__c FROM Account ORDER BY NPI_Number__c ASC NULLS LAST LIMIT 3")
    assert all(r["NPI_Number__c"] is None for r in nulls)
    count = org.query("SELECT COUNT() FROM Call2_vod__c").json()
    assert count == {"totalSize": len(rows), "done": True, "records": []}
    agg = org.records("SELECT COUNT(Id) n FROM Account")
    assert agg[0]["n"] > 0 and agg[0]["attributes"] == {"type": "AggregateResult"}


def test_query_errors(org: Org) -> None:
    cases = {
        "SELECT Id FROM": "MALFORMED_QUERY",
        "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'": "MALFORMED_QUERY",
        "SELECT Id FROM Account WHERE Name = 'unterminated": "MALFORMED_QUERY",
        "SELECT Id, Id FROM Account": "MALFORMED_QUERY",
        "SELECT Id FROM Account LIMIT": "MALFORMED_QUERY",
        "SELECT Nope__c FROM Account": "INVALID_FIELD",
        "SELECT Id FROM Account WHERE Nope__c = 'x'": "INVALID_FIELD",
        "SELECT Nope__r.Name FROM Call2_vod__c": "INVALID_FIELD",
        "SELECT Id FROM Call2_vod__c WHERE Call_Date_vod__c = '2026-01-01'": "INVALID_FIELD",
        "SELECT Id FROM Nope__c": "INVALID_TYPE",
    }
    for q, code in cases.items():
        r = org.query(q)
        assert r.status_code == 400 and errors_of(r) == [code], (q, r.text)
    assert "ERROR at Row:1:Column:" in org.query("SELECT Nope__c FROM Account").json()[0]["message"]


def test_paging_to_the_end(org: Org) -> None:
    account = org.account("EXT-000003")
    records = [{"attributes": {"type": "Call2_vod__c"}, "Account_vod__c": account, "Call_Date_vod__c": "2026-01-01",
                "Subject_vod__c": f"paging {i}"} for i in range(200)]
    for _ in range(2):
        r = org.http.post("/composite/sobjects", json={"allOrNone": True, "records": records})
        assert all(row["success"] for row in r.json())
    q = "SELECT Id, Subject_vod__c FROM Call2_vod__c WHERE Subject_vod__c LIKE 'paging%'"
    body = org.query(q, **{"Sforce-Query-Options": "batchSize=250"}).json()
    assert body["totalSize"] == 400 and body["done"] is False and len(body["records"]) == 250
    assert body["nextRecordsUrl"].startswith(f"{V}/query/01g") and body["nextRecordsUrl"].endswith("-250")
    seen = [r["Id"] for r in body["records"]]
    while not body["done"]:
        body = org.http.get(body["nextRecordsUrl"].removeprefix(V)).json()
        seen += [r["Id"] for r in body["records"]]
    assert len(seen) == len(set(seen)) == 400 and "nextRecordsUrl" not in body
    bad = org.http.get("/query/01g0U000000999AAAA-200")
    assert bad.status_code == 400 and errors_of(bad) == ["INVALID_QUERY_LOCATOR"]


# sObject rows

def test_create_get_update_delete(org: Org) -> None:
    r = org.create("Call2_vod__c", org.call(Subject_vod__c="Created"))
    assert r.status_code == 201
    body = r.json()
    assert body["success"] is True and body["errors"] == [] and body["id"].startswith("a0C0U")
    rec = org.http.get(f"/sobjects/Call2_vod__c/{body['id']}").json()
    assert rec["attributes"]["type"] == "Call2_vod__c" and rec["Subject_vod__c"] == "Created"
    assert rec["Name"].startswith("C-") and len(rec["Name"]) == 9
    assert rec["OwnerId"] == rec["CreatedById"] == org.user_id and rec["IsDeleted"] is False
    assert rec["Send_To_Vault_Clinical_vod__c"] is False
    assert rec["CreatedDate"].endswith("+0000") and len(rec["CreatedDate"]) == 28
    some = org.http.get(f"/sobjects/Call2_vod__c/{body['id']}", params={"fields": "Subject_vod__c,Name"}).json()
    assert set(some) == {"attributes", "Subject_vod__c", "Name"}
    r = org.http.patch(f"/sobjects/Call2_vod__c/{body['id']}", json={"Subject_vod__c": "Changed"})
    assert r.status_code == 204
    after = org.http.get(f"/sobjects/Call2_vod__c/{body['id']}").json()
    assert after["Subject_vod__c"] == "Changed" and after["SystemModstamp"] > rec["SystemModstamp"]
    assert org.http.delete(f"/sobjects/Call2_vod__c/{body['id']}").status_code == 204
    gone = org.http.get(f"/sobjects/Call2_vod__c/{body['id']}")
    assert gone.status_code == 404
    assert org.records(f"SELECT Id FROM Call2_vod__c WHERE Id = '{body['id']}'") == []
    every = org.http.get("/queryAll", params={"q": f"SELECT Id, IsDeleted FROM Call2_vod__c WHERE Id = '{body['id']}'"})
    assert every.json()["records"][0]["IsDeleted"] is True


def test_vci_autonumber_and_named_create(org: Org) -> None:
    r = org.create("Vault_Clinical_Interaction_vod__c", {
        "Account_vod__c": org.account(), "Interaction_Date_vod__c": TODAY.isoformat(), "Status_vod__c": "Planned_vod",
        "Channel_vod__c": "Video_vod", "Vault_Activity_Id_vod__c": "ACT-VCI-1"})
    rec = org.http.get(f"/sobjects/Vault_Clinical_Interaction_vod__c/{r.json()['id']}").json()
    assert rec["Name"] == "VCI-0000001" and rec["Id"].startswith("a1V0U")
    named = org.create("Call2_vod__c", org.call(Name="My call")).json()["id"]
    assert org.http.get(f"/sobjects/Call2_vod__c/{named}").json()["Name"] == "My call"


def test_unknown_ids_and_objects(org: Org) -> None:
    missing = org.http.get("/sobjects/Call2_vod__c/a0C0U000999999AAAA")
    assert missing.status_code == 404 and errors_of(missing) == ["NOT_FOUND"]
    assert org.http.patch("/sobjects/Call2_vod__c/a0C0U000999999AAAA", json={}).status_code == 404
    for bad in ("not-an-id", "0010U000000001AAAA"):
        r = org.http.get(f"/sobjects/Call2_vod__c/{bad}")
        assert r.status_code == 400 and errors_of(r) == ["MALFORMED_ID"], bad
    assert org.http.get("/sobjects/Nope__c/describe").status_code == 404


def test_upsert_created_updated_and_several(org: Org) -> None:
    url = "/sobjects/Account/External_ID_vod__c"
    r = org.http.patch(f"{url}/EXT-NEW-1", json={"FirstName": "Ada", "LastName": "Lovelace"})
    assert r.status_code == 201
    created = r.json()
    assert created["created"] is True and created["success"] is True and created["errors"] == []
    r = org.http.patch(f"{url}/EXT-NEW-1", json={"PersonEmail": "ada@example.org"})
    assert r.status_code == 200 and r.json() == {"id": created["id"], "success": True, "errors": [], "created": False}
    rec = org.http.get(f"/sobjects/Account/{created['id']}").json()
    assert rec["Name"] == "Ada Lovelace" and rec["PersonEmail"] == "ada@example.org"
    org.http.patch(f"{url}/EXT-NEW-1", json={"FirstName": "Augusta Ada"})
    assert org.http.get(f"/sobjects/Account/{created['id']}").json()["Name"] == "Augusta Ada Lovelace"
    several = org.http.patch(f"{url}/EXT-000002", json={"FirstName": "X"})
    assert several.status_code == 300
    assert len(several.json()) == 2 and all(u.startswith(f"{V}/sobjects/Account/001") for u in several.json())
    assert org.http.get(f"{url}/EXT-NEW-1").json()["Id"] == created["id"]
    assert org.http.patch("/sobjects/Account/LastName/X", json={}).status_code == 404
    call = org.http.patch("/sobjects/Call2_vod__c/Gateway_Request_Id__c/req-1", json={
        "Account_vod__r": {"External_ID_vod__c": "EXT-000004"}, "Call_Date_vod__c": "2026-01-02"})
    assert call.status_code == 201
    got = org.http.get(f"/sobjects/Call2_vod__c/{call.json()['id']}").json()
    assert got["Account_vod__c"] == org.account("EXT-000004") and got["Gateway_Request_Id__c"] == "req-1"


# sObject Collections

def test_collections_create_update_delete(org: Org) -> None:
    account = org.account()
    r = org.http.post("/composite/sobjects", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Call2_vod__c"}, "Account_vod__c": account, "Call_Date_vod__c": "2026-02-01"},
        {"attributes": {"type": "Call2_vod__c"}, "Account_vod__c": account},
        {"attributes": {"type": "Clinical_Study_vod__c"}, "Name": "CCG-101", "Vault_Study_Id_vod__c": "0ST1"},
        {"Account_vod__c": account, "Call_Date_vod__c": "2026-02-01"},
    ]})
    rows = r.json()
    assert r.status_code == 200 and [row["success"] for row in rows] == [True, False, True, False]
    assert rows[1] == {"id": None, "success": False, "errors": [{
        "statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Call_Date_vod__c]",
        "fields": ["Call_Date_vod__c"]}]}
    assert rows[2]["id"].startswith("a1S")
    ids = [rows[0]["id"], rows[2]["id"]]
    r = org.http.patch("/composite/sobjects", json={"records": [
        {"attributes": {"type": "Call2_vod__c"}, "id": ids[0], "Subject_vod__c": "Bulk"},
        {"attributes": {"type": "Call2_vod__c"}, "id": "a0C0U000999999AAAA", "Subject_vod__c": "Bulk"},
        {"attributes": {"type": "Call2_vod__c"}, "Subject_vod__c": "no id"},
    ]})
    assert [row["success"] for row in r.json()] == [True, False, False]
    assert org.http.get(f"/sobjects/Call2_vod__c/{ids[0]}").json()["Subject_vod__c"] == "Bulk"
    r = org.http.delete("/composite/sobjects", params={"ids": ",".join([*ids, "bogus"]), "allOrNone": "false"})
    assert [row["success"] for row in r.json()] == [True, True, False]
    assert r.json()[2]["errors"][0]["statusCode"] == "MALFORMED_ID"
    got = org.http.get("/composite/sobjects/Account", params={"ids": account, "fields": "Id,Name"}).json()
    assert got[0]["Id"] == account


def test_collections_all_or_none_rolls_back(org: Org) -> None:
    account = org.account()
    before = org.query("SELECT COUNT() FROM Call2_vod__c").json()["totalSize"]
    r = org.http.post("/composite/sobjects", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Call2_vod__c"}, "Account_vod__c": account, "Call_Date_vod__c": "2026-02-01"},
        {"attributes": {"type": "Call2_vod__c"}, "Account_vod__c": account, "Call_Date_vod__c": "2026-02-01",
         "Call_Channel_vod__c": "Pigeon_vod"},
    ]})
    rows = r.json()
    assert rows[0]["success"] is False and rows[0]["id"] is None
    assert rows[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert rows[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert org.query("SELECT COUNT() FROM Call2_vod__c").json()["totalSize"] == before


def test_collections_limit_and_upsert(org: Org) -> None:
    record = {"attributes": {"type": "Clinical_Study_vod__c"}, "Name": "S"}
    r = org.http.post("/composite/sobjects", json={"records": [record] * 201})
    assert r.status_code == 400 and errors_of(r) == ["EXCEEDED_ID_LIMIT"]
    r = org.http.delete("/composite/sobjects", params={"ids": ",".join(["a1S0U000000001AAAA"] * 201)})
    assert r.status_code == 400 and errors_of(r) == ["EXCEEDED_ID_LIMIT"]
    url = "/composite/sobjects/Clinical_Study_vod__c/Vault_Study_Id_vod__c"
    first = org.http.patch(url, json={"allOrNone": False, "records": [
        {"attributes": {"type": "Clinical_Study_vod__c"}, "Name": "A", "Vault_Study_Id_vod__c": "0ST-A"},
        {"attributes": {"type": "Clinical_Study_vod__c"}, "Name": "B", "Vault_Study_Id_vod__c": "0ST-B"}]}).json()
    assert [row["created"] for row in first] == [True, True]
    again = org.http.patch(url, json={"records": [
        {"attributes": {"type": "Clinical_Study_vod__c"}, "Name": "A2", "Vault_Study_Id_vod__c": "0ST-A"},
        {"attributes": {"type": "Clinical_Study_vod__c"}, "Name": "C", "Vault_Study_Id_vod__c": "0ST-C"}]}).json()
    assert [(row["id"] == first[0]["id"], row["created"]) for row in again] == [(True, False), (False, True)]


# error codes

def test_write_error_codes(org: Org) -> None:
    future = (TODAY + timedelta(days=3)).isoformat()
    account = org.account()
    cases: list[tuple[str, dict, str, list[str] | None]] = [
        ("Call2_vod__c", {"Call_Date_vod__c": "2026-01-01"}, "REQUIRED_FIELD_MISSING", ["Account_vod__c"]),
        ("Call2_vod__c", org.call(Call_Channel_vod__c="Fax_vod"), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
         ["Call_Channel_vod__c"]),
        ("Call2_vod__c", org.call(Account_vod__c="xyz"), "MALFORMED_ID", ["Account_vod__c"]),
        ("Call2_vod__c", org.call(Account_vod__c="0010U000999999AAAA"), "INVALID_CROSS_REFERENCE_KEY",
         ["Account_vod__c"]),
        ("Call2_vod__c", org.call(Bogus__c=1), "INVALID_FIELD", None),  # Salesforce names no fields here
        ("Call2_vod__c", org.call(Subject_vod__c="x" * 256), "STRING_TOO_LONG", ["Subject_vod__c"]),
        ("Call2_vod__c", org.call(Status_vod__c="Submitted_vod", Call_Date_vod__c=future),
         "FIELD_CUSTOM_VALIDATION_EXCEPTION", []),
        ("Vault_Clinical_Interaction_vod__c",
         {"Account_vod__c": account, "Interaction_Date_vod__c": future, "Status_vod__c": "Submitted_vod"},
         "FIELD_CUSTOM_VALIDATION_EXCEPTION", []),
        ("Call2_vod__c", org.call(Call_Date_vod__c="26/11/2026"), "JSON_PARSER_ERROR", ["Call_Date_vod__c"]),
        ("Call2_vod__c", org.call(CreatedDate="2026-01-01T00:00:00Z"), "INVALID_FIELD_FOR_INSERT_UPDATE",
         ["CreatedDate"]),
    ]
    for obj, body, code, fields in cases:
        r = org.create(obj, body)
        assert r.status_code == 400, (code, r.text)
        err = r.json()[0]
        assert err["errorCode"] == code and err.get("fields") == fields, (code, err)
    ok = org.create("Call2_vod__c", org.call(Gateway_Request_Id__c="dup-1"))
    assert ok.status_code == 201
    dup = org.create("Call2_vod__c", org.call(Gateway_Request_Id__c="dup-1"))
    assert dup.status_code == 400 and errors_of(dup) == ["DUPLICATE_VALUE"]
    assert ok.json()["id"] in dup.json()[0]["message"]
    submitted_today = org.create("Call2_vod__c", org.call(Status_vod__c="Submitted_vod"))
    assert submitted_today.status_code == 201
    r = org.http.patch(f"/sobjects/Call2_vod__c/{submitted_today.json()['id']}", json={"Call_Date_vod__c": future})
    assert r.status_code == 400 and errors_of(r) == ["FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    r = org.http.patch(f"/sobjects/Call2_vod__c/{ok.json()['id']}", json={"Account_vod__c": None})
    assert errors_of(r) == ["REQUIRED_FIELD_MISSING"]


# polling

def test_updated_and_deleted(org: Org) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    new = org.create("Call2_vod__c", org.call(Subject_vod__c="poll")).json()["id"]
    old = org.records("SELECT Id FROM Call2_vod__c ORDER BY CreatedDate LIMIT 1")[0]["Id"]
    assert org.http.patch(f"/sobjects/Call2_vod__c/{old}", json={"Subject_vod__c": "touched"}).status_code == 204
    gone = org.create("Call2_vod__c", org.call()).json()["id"]
    org.http.delete(f"/sobjects/Call2_vod__c/{gone}")
    end = datetime.now(UTC) + timedelta(seconds=5)
    window = {"start": start.isoformat(), "end": end.isoformat()}
    updated = org.http.get("/sobjects/Call2_vod__c/updated/", params=window).json()
    assert new in updated["ids"] and old in updated["ids"] and gone not in updated["ids"]
    assert updated["latestDateCovered"].endswith("+0000")
    deleted = org.http.get("/sobjects/Call2_vod__c/deleted/", params=window).json()
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}
    assert gone in [d["id"] for d in deleted["deletedRecords"]]
    stamps = [org.http.get(f"/sobjects/Call2_vod__c/{i}").json()["SystemModstamp"] for i in (new, old)]
    assert stamps[0] < stamps[1]
    too_old = {"start": (start - timedelta(days=31)).isoformat(), "end": end.isoformat()}
    r = org.http.get("/sobjects/Call2_vod__c/updated/", params=too_old)
    assert r.status_code == 400 and errors_of(r) == ["INVALID_REPLICATION_DATE"]


def test_modstamps_strictly_increase(org: Org) -> None:
    account = org.account()
    records = [{"attributes": {"type": "Call2_vod__c"}, "Account_vod__c": account, "Call_Date_vod__c": "2026-03-01",
                "Subject_vod__c": "stamp"} for _ in range(50)]
    ids = [row["id"] for row in org.http.post("/composite/sobjects", json={"records": records}).json()]
    rows = org.records("SELECT Id, SystemModstamp FROM Call2_vod__c WHERE Subject_vod__c = 'stamp'")
    stamps = sorted(r["SystemModstamp"] for r in rows)
    assert len(ids) == 50 and len(set(stamps)) == 50


# describe

def test_describe(org: Org) -> None:
    glob = org.http.get("/sobjects/").json()
    names = {o["name"]: o for o in glob["sobjects"]}
    assert {"User", "Account", "Call2_vod__c", "Vault_Clinical_Interaction_vod__c", "Clinical_Study_vod__c",
            "Clinical_Site_vod__c"} <= set(names)
    assert names["Call2_vod__c"]["keyPrefix"] == "a0C" and glob["maxBatchSize"] == 200
    desc = org.http.get("/sobjects/Call2_vod__c/describe").json()
    fields = {f["name"]: f for f in desc["fields"]}
    channel = fields["Call_Channel_vod__c"]
    assert channel["type"] == "picklist" and channel["restrictedPicklist"] is True
    message = channel["picklistValues"][3]
    assert (message["value"], message["label"], message["active"]) == ("Message_vod", "Chat or Text", True)
    account = fields["Account_vod__c"]
    assert account["referenceTo"] == ["Account"] and account["relationshipName"] == "Account_vod__r"
    assert account["nillable"] is False
    ext = fields["Gateway_Request_Id__c"]
    assert ext["externalId"] is True and ext["unique"] is True and ext["length"] == 64
    acct = {f["name"]: f for f in org.http.get("/sobjects/Account/describe").json()["fields"]}
    assert acct["External_ID_vod__c"]["externalId"] is True and acct["External_ID_vod__c"]["unique"] is False


def test_file_database_survives_restart(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/us.db"
    first = EmulatorServer(create_app("us", build_world(5), db_url=url)).start()
    try:
        org = Org(first)
        made = org.create("Call2_vod__c", org.call()).json()["id"]
        name = org.http.get(f"/sobjects/Call2_vod__c/{made}").json()["Name"]
    finally:
        first.stop()
    again = EmulatorServer(create_app("us", build_world(5, seed=99), db_url=url)).start()
    try:
        org = Org(again)
        assert org.http.get(f"/sobjects/Call2_vod__c/{made}").json()["Name"] == name
        after = org.create("Call2_vod__c", org.call()).json()["id"]
        assert after > made
        assert org.http.get(f"/sobjects/Call2_vod__c/{after}").json()["Name"] > name
    finally:
        again.stop()


# limits and knobs

def test_rate_limit_knob(server: EmulatorServer, org: Org) -> None:
    httpx.put(f"{server.url}/_admin/knobs", json={"rate_limit": 3, "rate_window_s": 60})
    try:
        codes = [org.http.get("/limits").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 403, 403]
        r = org.http.get("/limits")
        assert r.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    finally:
        httpx.put(f"{server.url}/_admin/knobs", json={"rate_limit": None})
    assert org.http.get("/limits").status_code == 200


def test_daily_limit() -> None:
    srv = EmulatorServer(create_app("us", build_world(5), daily_limit=3)).start()
    try:
        token = get_token(srv.url).json()["access_token"]
        client = httpx.Client(base_url=srv.url + V, headers={"Authorization": f"Bearer {token}"})
        codes = [client.get("/limits").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 403]
        r = client.get("/limits")
        assert errors_of(r) == ["REQUEST_LIMIT_EXCEEDED"] and r.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    finally:
        srv.stop()


@pytest.mark.slow  # waits for real time to pass (latency knobs)
def test_knobs_latency_outage_refuse_failure(server: EmulatorServer, org: Org, knobs: Knobs) -> None:
    admin = f"{server.url}/_admin/knobs"
    try:
        httpx.put(admin, json={"latency_ms": 150})
        t0 = time.monotonic()
        assert org.http.get("/limits").status_code == 200
        assert time.monotonic() - t0 >= 0.15
        httpx.put(admin, json={"latency_ms": 0, "outage": "503"})
        assert org.http.get("/limits").status_code == 503
        httpx.put(admin, json={"outage": None, "failure_rate": 1.0})
        assert org.http.get("/limits").status_code == 503
        httpx.put(admin, json={"failure_rate": 0.0, "outage": "refuse"})
        time.sleep(0.1)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/services/data/", timeout=2)
        knobs.update({"outage": None})  # the admin port is closed too: resume in-process
        time.sleep(0.1)
        assert httpx.get(f"{server.url}/services/data/", timeout=2).status_code == 200
        assert httpx.get(admin).json()["outage"] is None
        assert httpx.get(f"{server.url}/_admin/stats").json()["requests"] > 0
    finally:
        knobs.update({"latency_ms": 0, "failure_rate": 0.0, "outage": None})
