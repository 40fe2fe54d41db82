"""Each error the stand-ins report, checked whole against the JSON and HTTP status the public API references give.

Vault: every answer is HTTP 200; a failure is `{"responseStatus": "FAILURE", "errors": [{"type", "message"}]}`;
the `type` is the contract and the `message` is not (https://limited.veevavault.dev/medical/vault-api/api-reference/
26.1/errors/, type names from https://limited.veevavault.dev/vault-api/api-reference/23.1/errors/error-types/).
Salesforce: an error is an HTTP status with a JSON array of `{message, errorCode}` (plus `fields` for a save
error) (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from emulators import crm, ctms
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, build_world
from emulators.server import EmulatorServer

VAULT = "/api/v26.1"
SF = "/services/data/v66.0"


class Text:
    """Equal to any non-empty string: where a reference says the message text is not part of the contract."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other.strip())

    def __repr__(self) -> str:
        return "<any message>"


def vault_failure(type_: str, **extra: object) -> dict:
    return {"responseStatus": "FAILURE", "errors": [{"type": type_, "message": Text()}], **extra}


def vault_session(url: str) -> httpx.Client:
    body = httpx.post(f"{url}{VAULT}/auth", data={"username": CTMS_CREDENTIALS["username"],
                                                   "password": CTMS_CREDENTIALS["password"]}).json()
    return httpx.Client(base_url=url + VAULT, timeout=10, headers={"Authorization": body["sessionId"]})


def org_session(url: str) -> httpx.Client:
    token = httpx.post(f"{url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": CRM_CREDENTIALS["client_id"],
        "client_secret": CRM_CREDENTIALS["client_secret"]}).json()["access_token"]
    return httpx.Client(base_url=url + SF, timeout=10, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def vault_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer(ctms.create_app(build_world(5))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def vault(vault_server: EmulatorServer) -> httpx.Client:
    return vault_session(vault_server.url)


@pytest.fixture(scope="module")
def org_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer(crm.create_app("us", build_world(5))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def org(org_server: EmulatorServer) -> httpx.Client:
    return org_session(org_server.url)


# -- Vault ---------------------------------------------------------------------------------------------------

def test_vault_unknown_object(vault: httpx.Client) -> None:
    # INVALID_DATA, "Invalid data provided in the API call" (error-types page); HTTP 200 (errors page).
    for r in (vault.get("/vobjects/nope__c/0PE000000000001"),
              vault.post("/query", data={"q": "SELECT id FROM nope__c"}),
              vault.post("/vobjects/nope__c", json=[{"name__v": "x"}])):
        assert (r.status_code, r.json()) == (200, vault_failure("INVALID_DATA"))


def test_vault_unknown_field(vault: httpx.Client) -> None:
    # In VQL the call fails; in a write only the row does: "The top level can be SUCCESS while individual rows
    # fail" (https://limited.veevavault.dev/safety/vault-api/api-reference/17.1/objects/update-object-records/).
    r = vault.post("/query", data={"q": "SELECT id, nope__c FROM person__sys"})
    assert (r.status_code, r.json()) == (200, vault_failure("INVALID_DATA"))
    r = vault.post("/vobjects/person__sys", json=[{"last_name__sys": "Doe", "name__v": "Doe", "nope__c": "x"}])
    assert (r.status_code, r.json()) == (200, {"responseStatus": "SUCCESS", "data": [vault_failure("INVALID_DATA")]})


def test_vault_malformed_vql(vault: httpx.Client) -> None:
    # INCORRECT_QUERY_SYNTAX_ERROR: "Query string used with VQL has an incorrect query syntax" (error-types page).
    for q in ("SELECT FROM person__sys", "SELECT id FROM person__sys WHERE name__v = 'open"):
        r = vault.post("/query", data={"q": q})
        assert (r.status_code, r.json()) == (200, vault_failure("INCORRECT_QUERY_SYNTAX_ERROR")), q


def test_vault_invalid_session(vault_server: EmulatorServer) -> None:
    # INVALID_SESSION_ID: "Invalid session ID provided" (error-types page), for a missing or unknown session alike.
    for headers in ({}, {"Authorization": "0123456789ABCDEF"}):
        r = httpx.post(f"{vault_server.url}{VAULT}/query", data={"q": "SELECT id FROM study__v"}, headers=headers)
        assert (r.status_code, r.json()) == (200, vault_failure("INVALID_SESSION_ID"))


def test_vault_burst_limit() -> None:
    # https://limited.veevavault.dev/quality/vault-api/references/api-rate-limits: past the burst limit Vault
    # delays answers (X-VaultAPI-ResponseDelay) and they still succeed; past the /auth burst limit an /auth call
    # fails. The failure is a failed log-in (errorType AUTHENTICATION_FAILED, as on the errors page) of type
    # API_LIMIT_EXCEEDED, the error-types page's type for an API limit.
    server = EmulatorServer(ctms.create_app(build_world(3), burst_limit=2, burst_delay_ms=50,
                                            auth_burst_limit=2)).start()
    try:
        client = vault_session(server.url)  # call 1 of 2
        assert "X-VaultAPI-ResponseDelay" not in client.get("/metadata/vobjects").headers
        r = client.get("/metadata/vobjects")
        assert r.status_code == 200 and r.json()["responseStatus"] == "SUCCESS"
        assert (r.headers["X-VaultAPI-BurstLimit"], r.headers["X-VaultAPI-BurstLimitRemaining"],
                r.headers["X-VaultAPI-ResponseDelay"]) == ("2", "0", "50ms")
        form = {"username": CTMS_CREDENTIALS["username"], "password": CTMS_CREDENTIALS["password"]}
        answers = [httpx.post(f"{server.url}{VAULT}/auth", data=form) for _ in range(2)]
        assert answers[0].json()["responseStatus"] == "SUCCESS"
        assert (answers[1].status_code, answers[1].json()) == (
            200, vault_failure("API_LIMIT_EXCEEDED", errorType="AUTHENTICATION_FAILED"))
    finally:
        server.stop()


# -- Salesforce ------------------------------------------------------------------------------------------------

def test_salesforce_malformed_query(org: httpx.Client) -> None:
    # A bad query returns MALFORMED_QUERY (https://developer.salesforce.com/docs/platform/api-rest/guide/
    # resources-query), as 400 with the error array (errorcodes page).
    for q in ("SELECT Id FROM", "SELECT Id FROM Account WHERE Name = 'open"):
        r = org.get("/query", params={"q": q})
        assert (r.status_code, r.json()) == (400, [{"message": Text(), "errorCode": "MALFORMED_QUERY"}]), q


def test_salesforce_invalid_field(org: httpx.Client) -> None:
    # The documented create error, word for word
    # (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api/dome_sobject_create.htm).
    r = org.post("/sobjects/Account/", json={"id": "001D000000IqhSLIAZ", "Name": "Express Donuts and Pies"})
    assert (r.status_code, r.json()) == (400, [{"message": "The Id field should not be specified in the sobject data.",
                                                "errorCode": "INVALID_FIELD"}])
    r = org.post("/sobjects/Account/", json={"LastName": "Doe", "Nope__c": "x"})
    assert (r.status_code, r.json()) == (400, [{"message": Text(), "errorCode": "INVALID_FIELD"}])
    r = org.get("/query", params={"q": "SELECT Nope__c FROM Account"})
    assert (r.status_code, r.json()) == (400, [{"message": Text(), "errorCode": "INVALID_FIELD"}])


def test_salesforce_entity_deleted(org: httpx.Client) -> None:
    # 404, "the requested resource couldn't be found" (errorcodes page), under Salesforce's status code for a
    # record that was deleted, ENTITY_IS_DELETED; the record itself is still in the recycle bin (queryAll sees it).
    new_id = org.post("/sobjects/Account/", json={"LastName": "Gone"}).json()["id"]
    assert org.delete(f"/sobjects/Account/{new_id}").status_code == 204
    for r in (org.get(f"/sobjects/Account/{new_id}"), org.patch(f"/sobjects/Account/{new_id}", json={"LastName": "X"}),
              org.delete(f"/sobjects/Account/{new_id}")):
        assert (r.status_code, r.json()) == (404, [{"message": Text(), "errorCode": "ENTITY_IS_DELETED"}])
    [row] = org.get("/queryAll", params={"q": f"SELECT Id, IsDeleted FROM Account WHERE Id = '{new_id}'"}
                    ).json()["records"]
    assert row["IsDeleted"] is True


def test_salesforce_duplicate_external_id(org: httpx.Client) -> None:
    # An external id matched more than once: 300 whose body lists the matching records (errorcodes page; "the
    # record isn't created or updated", https://developer.salesforce.com/docs/platform/api-rest/guide/
    # dome-upsert.html). In sObject Collections the row fails alone, as DUPLICATE_EXTERNAL_ID in the
    # `{statusCode, message, fields}` row shape.
    ids = [org.post("/sobjects/Account/", json={"LastName": f"Twin {i}", "External_ID_vod__c": "TWIN-1"}).json()["id"]
           for i in range(2)]
    r = org.patch("/sobjects/Account/External_ID_vod__c/TWIN-1", json={"FirstName": "Either"})
    assert r.status_code == 300
    assert sorted(r.json()) == sorted(f"{SF}/sobjects/Account/{i}" for i in ids)
    r = org.patch("/composite/sobjects/Account/External_ID_vod__c", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "External_ID_vod__c": "TWIN-1", "FirstName": "Either"}]})
    assert r.status_code == 200
    [row] = r.json()
    assert row["success"] is False
    assert row["errors"] == [{"statusCode": "DUPLICATE_EXTERNAL_ID", "message": Text(),
                              "fields": ["External_ID_vod__c"]}]
    names = org.get("/query", params={"q": "SELECT FirstName FROM Account WHERE External_ID_vod__c = 'TWIN-1'"})
    assert [rec["FirstName"] for rec in names.json()["records"]] == [None, None]


def test_salesforce_request_limit() -> None:
    # 403 with REQUEST_LIMIT_EXCEEDED: "you've exceeded API request limits in your org" (errorcodes page).
    server = EmulatorServer(crm.create_app("us", build_world(3), daily_limit=1)).start()
    try:
        client = org_session(server.url)
        assert client.get("/limits").status_code == 200
        r = client.get("/limits")
        assert (r.status_code, r.json()) == (403, [{"message": Text(), "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    finally:
        server.stop()


@pytest.mark.slow  # waits for real time to pass (a token expiring)
def test_salesforce_session_expired() -> None:
    # 401: "The session ID or OAuth token used has expired or is invalid. The response body contains the message
    # and errorCode" (errorcodes page); the code is INVALID_SESSION_ID.
    server = EmulatorServer(crm.create_app("us", build_world(3), token_ttl_s=1.5)).start()
    try:
        client = org_session(server.url)
        assert client.get("/limits").status_code == 200
        time.sleep(1.6)
        r = client.get("/limits")
        assert (r.status_code, r.json()) == (401, [{"message": Text(), "errorCode": "INVALID_SESSION_ID"}])
    finally:
        server.stop()
