"""The CTMS stand-in takes and gives CSV as Vault tooling sends it: record create, upsert and update with
`Content-Type: text/csv`, per-row results with `Accept: text/csv`, and the API versions at `/api` and `/api/`.

What the CSV looks like comes from the Vault REST API reference: create, upsert and update take `text/csv` or
`application/json` and answer `application/json` (default) or `text/csv`, at most 500 records
(https://limited.veevavault.dev/vault-api/api-reference/23.2/vault-objects/create-object-records/); CSV is RFC 4180
except that CRLF and LF both end a line, CR is not allowed in a value, TAB is, and a backslash is written twice
(https://general.veevavault.dev/vault-api/references/csv-rfc-deviations.md); a multi-value picklist cell is
`"north_america__c,south_america__c"` (the Update Object Records example of the same reference).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from emulators.ctms import create_app
from emulators.seed import CTMS_CREDENTIALS, World, build_world
from emulators.server import EmulatorServer

V = "/api/v26.1"
TODAY = date(2026, 11, 26)
CSV_IN = {"Content-Type": "text/csv"}
CSV_BOTH = {"Content-Type": "text/csv", "Accept": "text/csv"}


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(10, today=TODAY)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[EmulatorServer]:
    srv = EmulatorServer(create_app(world)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def vault(server: EmulatorServer) -> httpx.Client:
    body = httpx.post(f"{server.url}{V}/auth", data={"username": CTMS_CREDENTIALS["username"],
                                                     "password": CTMS_CREDENTIALS["password"]}).json()
    return httpx.Client(base_url=server.url + V, timeout=10, headers={"Authorization": body["sessionId"]})


def rows(vault: httpx.Client, q: str) -> list[dict]:
    body = vault.post("/query", data={"q": q}).json()
    assert body["responseStatus"] == "SUCCESS", body
    return body["data"]


def csv_answer(r: httpx.Response) -> list[dict[str, str]]:
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    return list(csv.DictReader(io.StringIO(r.text)))


def test_api_versions_with_and_without_a_trailing_slash(server: EmulatorServer) -> None:
    # Retrieve API Versions is documented as `GET /api/`; `/api` answers the same.
    bodies = [httpx.get(f"{server.url}{path}").json() for path in ("/api", "/api/")]
    assert bodies[0] == bodies[1]
    assert bodies[0]["responseStatus"] == "SUCCESS"
    assert bodies[0]["values"]["v26.1"] == f"{server.url}/api/v26.1"


def test_a_vault_style_csv_load_end_to_end(vault: httpx.Client) -> None:
    created = vault.post("/vobjects/person__sys", headers=CSV_BOTH, content=(
        b"name__v,first_name__sys,last_name__sys,email__sys,external_id__v\r\n"
        b'"Curie, Marie",Marie,Curie,marie@example.org,CSV-001\r\n'
        b'Tab\tName,"Ada ""Countess""",Lovelace,,CSV-002\n'
        b"Back\\\\slash,Grace,Hopper,grace@example.org,CSV-003\n"))
    answer = csv_answer(created)
    assert list(answer[0]) == ["responseStatus", "id", "errors", "rowId", "event", "id_param_value"]
    assert [(a["responseStatus"], a["rowId"], a["event"], a["errors"]) for a in answer] == [
        ("SUCCESS", "1", "created__sys", ""), ("SUCCESS", "2", "created__sys", ""),
        ("SUCCESS", "3", "created__sys", "")]
    ids = [a["id"] for a in answer]
    got = rows(vault, "SELECT id, name__v, first_name__sys, last_name__sys, email__sys FROM person__sys "
                      "WHERE external_id__v LIKE 'CSV-%' ORDER BY external_id__v")
    assert got == [
        {"id": ids[0], "name__v": "Curie, Marie", "first_name__sys": "Marie", "last_name__sys": "Curie",
         "email__sys": "marie@example.org"},
        {"id": ids[1], "name__v": "Tab\tName", "first_name__sys": 'Ada "Countess"', "last_name__sys": "Lovelace",
         "email__sys": None},
        {"id": ids[2], "name__v": "Back\\slash", "first_name__sys": "Grace", "last_name__sys": "Hopper",
         "email__sys": "grace@example.org"},
    ]

    upsert = vault.post("/vobjects/person__sys", params={"idParam": "external_id__v"}, headers=CSV_BOTH, content=(
        b"external_id__v,name__v,last_name__sys,email__sys\n"
        b"CSV-002,Ada Lovelace,Lovelace,ada@example.org\n"
        b"CSV-004,Katherine Johnson,Johnson,\n"))
    answer = csv_answer(upsert)
    assert [(a["responseStatus"], a["event"], a["id_param_value"]) for a in answer] == [
        ("SUCCESS", "updated__sys", "CSV-002"), ("SUCCESS", "created__sys", "CSV-004")]
    assert answer[0]["id"] == ids[1]
    got = rows(vault, "SELECT external_id__v, name__v, email__sys FROM person__sys "
                      "WHERE external_id__v LIKE 'CSV-%' ORDER BY external_id__v")
    assert [(r["external_id__v"], r["name__v"], r["email__sys"]) for r in got] == [
        ("CSV-001", "Curie, Marie", "marie@example.org"), ("CSV-002", "Ada Lovelace", "ada@example.org"),
        ("CSV-003", "Back\\slash", "grace@example.org"), ("CSV-004", "Katherine Johnson", None)]

    # A column that is no field of the object fails every row, each on its own; the call itself succeeds.
    bad = vault.post("/vobjects/person__sys", headers=CSV_IN, content=(
        b"name__v,last_name__sys,favourite_colour__c\nA,A,red\nB,B,\n")).json()
    assert bad["responseStatus"] == "SUCCESS"
    assert [r["responseStatus"] for r in bad["data"]] == ["FAILURE", "FAILURE"]
    assert {r["errors"][0]["type"] for r in bad["data"]} == {"INVALID_DATA"}
    assert all("favourite_colour__c" in r["errors"][0]["message"] for r in bad["data"])
    # A bad value fails its row only; the CSV answer spells the error out.
    mixed = csv_answer(vault.post("/vobjects/person__sys", headers=CSV_BOTH, content=(
        b"name__v,last_name__sys,external_id__v\nGood,Good,CSV-005\nDup,Dup,CSV-001\n")))
    assert [a["responseStatus"] for a in mixed] == ["SUCCESS", "FAILURE"]
    assert mixed[1]["id"] == "" and mixed[1]["errors"].startswith("INVALID_DATA: ") and "CSV-001" in mixed[1]["errors"]
    assert len(rows(vault, "SELECT id FROM person__sys WHERE external_id__v LIKE 'CSV-%'")) == 5


def test_picklist_cells_list_value_names(vault: httpx.Client, world: World) -> None:
    person, study = world.ctms["person__sys"][0]["id"], world.ctms["study__v"][0]["id"]
    head = "object_type__v.api_name__v,person__v,study__v,activity_date__v,completed__v,channel__v,subject__v\n"
    base = f"clinical_activity__v,{person},{study},2026-11-20,true"
    body = vault.post("/vobjects/crm_activity__v", headers=CSV_IN, content=(
        head + f"{base},phone__v,one\n" + f'{base},"video__v, phone__v",two\n'
        + f'{base},"phone\\,video",three\n' + f"{base},,four\n").encode()).json()
    results = body["data"]
    assert [r["responseStatus"] for r in results] == ["SUCCESS", "FAILURE", "FAILURE", "FAILURE"]
    # channel__v takes one value: two names are refused, an escaped comma is part of one (unknown) name, and
    # an empty cell is no value for a required field.
    assert "single picklist value" in results[1]["errors"][0]["message"]
    assert "[phone,video]" in results[2]["errors"][0]["message"]
    assert results[3]["errors"][0]["type"] == "PARAMETER_REQUIRED"
    [row] = rows(vault, f"SELECT channel__v, completed__v FROM crm_activity__v WHERE id = '{results[0]['data']['id']}'")
    assert row == {"channel__v": ["phone__v"], "completed__v": True}


def test_update_with_csv_by_id_and_by_id_param(vault: httpx.Client) -> None:
    made = vault.post("/vobjects/person__sys", headers=CSV_IN, content=(
        b"name__v,last_name__sys,email__sys,external_id__v\nUpd One,One,one@example.org,UPD-1\n"
        b"Upd Two,Two,two@example.org,UPD-2\n")).json()
    one, two = (r["data"]["id"] for r in made["data"])
    # An empty cell clears the field; a row whose id is unknown fails alone.
    by_id = vault.put("/vobjects/person__sys", headers=CSV_IN, content=(
        f"id,email__sys\n{one},\n0PE999999999999,x@example.org\n").encode()).json()
    assert [r["responseStatus"] for r in by_id["data"]] == ["SUCCESS", "FAILURE"]
    assert by_id["data"][0]["data"] == {"id": one, "url": f"{V}/vobjects/person__sys/{one}"}
    by_key = csv_answer(vault.put("/vobjects/person__sys", params={"idParam": "external_id__v"}, headers=CSV_BOTH,
                                  content=b"external_id__v,name__v\nUPD-2,Renamed Two\nUPD-9,Nobody\n"))
    assert [(a["responseStatus"], a["id"], a["id_param_value"]) for a in by_key] == [
        ("SUCCESS", two, "UPD-2"), ("FAILURE", "", "UPD-9")]
    got = rows(vault, "SELECT external_id__v, name__v, email__sys FROM person__sys "
                      "WHERE external_id__v LIKE 'UPD-%' ORDER BY external_id__v")
    assert got == [{"external_id__v": "UPD-1", "name__v": "Upd One", "email__sys": None},
                   {"external_id__v": "UPD-2", "name__v": "Renamed Two", "email__sys": "two@example.org"}]


@pytest.mark.parametrize("content", [
    b'name__v,last_name__sys\n"Unclosed,Quote\n',
    b"name__v,last_name__sys\nOnly one value\n",
    b"name__v,last_name__sys\n",
    b"name__v,name__v\nA,B\n",
    b"name__v,last_name__sys\nCarriage\rReturn,X\n",
    "name__v,last_name__sys\nLatin,\u00e9\n".encode("latin-1"),
], ids=["unclosed-quote", "short-row", "header-only", "repeated-column", "bare-cr", "not-utf8"])
def test_malformed_csv_fails_the_whole_request(vault: httpx.Client, content: bytes) -> None:
    before = len(rows(vault, "SELECT id FROM person__sys"))
    r = vault.post("/vobjects/person__sys", headers=CSV_BOTH, content=content)
    # A request that fails as a whole answers Vault's JSON failure, whatever the Accept header asked for.
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["responseStatus"] == "FAILURE" and body["errors"][0]["type"] == "INVALID_DATA", body
    assert len(rows(vault, "SELECT id FROM person__sys")) == before


def test_csv_batches_over_500_are_refused(vault: httpx.Client) -> None:
    lines = "".join(f"Many {i},Many\n" for i in range(501))
    body = vault.post("/vobjects/person__sys", headers=CSV_IN,
                      content=f"name__v,last_name__sys\n{lines}".encode()).json()
    assert body["responseStatus"] == "FAILURE" and "500" in body["errors"][0]["message"]
    assert rows(vault, "SELECT id FROM person__sys WHERE last_name__sys = 'Many'") == []


def test_json_stays_the_default(vault: httpx.Client) -> None:
    r = vault.post("/vobjects/person__sys", json=[{"name__v": "Json", "last_name__sys": "Json"}],
                   headers={"Accept": "application/json, text/csv"})
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["data"][0]["data"]["event"] == "created__sys"
