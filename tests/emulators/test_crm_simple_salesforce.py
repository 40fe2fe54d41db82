"""The CRM stand-in driven by the real, unpatched `simple_salesforce` client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceMoreThanOneRecord

from emulators.crm import create_app
from emulators.seed import CRM_CREDENTIALS, build_world
from emulators.server import EmulatorServer


class Loopback(HTTPAdapter):
    """Plays DNS plus a TLS terminator: simple-salesforce only speaks https to `*.salesforce.com` and the instance
    host, so requests for those hosts go to the stand-in over plain http on loopback."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = urlsplit(target)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(("http", self.target.netloc, parts.path, parts.query, parts.fragment))
        return super().send(request, *args, **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    srv = EmulatorServer(create_app("us", build_world(300))).start()
    yield srv
    srv.stop()


def session_for(server: EmulatorServer) -> requests.Session:
    session = requests.Session()
    adapter = Loopback(server.url)
    for host in ("https://login.salesforce.com", "https://ccgw-us.my.salesforce.com", f"https://127.0.0.1:{server.port}"):
        session.mount(host, adapter)
    return session


@pytest.fixture(scope="module")
def sf(server: EmulatorServer) -> Salesforce:
    # simple-salesforce's own OAuth2 username-password login against its default https://login.salesforce.com
    return Salesforce(username=CRM_CREDENTIALS["username"], password=CRM_CREDENTIALS["password"],
                      consumer_key=CRM_CREDENTIALS["client_id"], consumer_secret=CRM_CREDENTIALS["client_secret"],
                      session=session_for(server), version="66.0")


def test_own_logins(server: EmulatorServer, sf: Salesforce) -> None:
    assert sf.auth_type == "password" and sf.sf_instance == f"127.0.0.1:{server.port}"
    credentials = Salesforce(consumer_key=CRM_CREDENTIALS["client_id"],
                             consumer_secret=CRM_CREDENTIALS["client_secret"], domain="ccgw-us.my",
                             session=session_for(server))
    assert credentials.auth_type == "client-credentials"
    assert credentials.query("SELECT COUNT() FROM Account")["totalSize"] > 300
    with pytest.raises(Exception, match="authentication failure"):
        Salesforce(username=CRM_CREDENTIALS["username"], password="wrong", consumer_key=CRM_CREDENTIALS["client_id"],
                   consumer_secret=CRM_CREDENTIALS["client_secret"], session=session_for(server))


def test_query_all_follows_pages(sf: Salesforce) -> None:
    q = "SELECT Id, Name, Account_vod__r.External_ID_vod__c FROM Call2_vod__c ORDER BY Name"
    first = sf.query(q, headers={"Sforce-Query-Options": "batchSize=200"})
    assert first["done"] is False and len(first["records"]) == 200
    everything = sf.query_all(q, headers={"Sforce-Query-Options": "batchSize=200"})
    assert everything["totalSize"] == first["totalSize"] == len(everything["records"]) > 400
    assert len({r["Id"] for r in everything["records"]}) == everything["totalSize"]
    assert everything["records"][0]["Account_vod__r"]["External_ID_vod__c"].startswith("EXT-")
    assert sf.api_usage["api-usage"].used > 0


def test_create_update_get(sf: Salesforce) -> None:
    account = sf.query("SELECT Id FROM Account WHERE External_ID_vod__c = 'EXT-000010'")["records"][0]["Id"]
    created = sf.Call2_vod__c.create({"Account_vod__c": account, "Call_Date_vod__c": date.today().isoformat(),
                                      "Status_vod__c": "Saved_vod", "Call_Channel_vod__c": "Video_vod"})
    assert created["success"] is True
    assert sf.Call2_vod__c.update(created["id"], {"Subject_vod__c": "From simple-salesforce"}) == 204
    got = sf.Call2_vod__c.get(created["id"])
    assert got["Subject_vod__c"] == "From simple-salesforce" and got["Account_vod__c"] == account
    assert got["attributes"]["url"] == f"/services/data/v66.0/sobjects/Call2_vod__c/{created['id']}"
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.Call2_vod__c.create({"Account_vod__c": account, "Call_Date_vod__c": "2026-01-01",
                                "Call_Channel_vod__c": "Fax_vod"})
    assert bad.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_upsert_and_describe(sf: Salesforce) -> None:
    assert sf.Account.upsert("External_ID_vod__c/EXT-SS-1", {"FirstName": "Grace", "LastName": "Hopper"}) == 201
    assert sf.Account.upsert("External_ID_vod__c/EXT-SS-1", {"PersonEmail": "grace@example.org"}) == 200
    found = sf.Account.get_by_custom_id("External_ID_vod__c", "EXT-SS-1")
    assert found["Name"] == "Grace Hopper" and found["PersonEmail"] == "grace@example.org"
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.upsert("External_ID_vod__c/EXT-000002", {"FirstName": "Twin"})
    describe = sf.restful("sobjects/Call2_vod__c/describe")
    assert describe["name"] == "Call2_vod__c" and describe["keyPrefix"] == "a0C"
    assert sf.Call2_vod__c.describe()["fields"] == describe["fields"]
    assert any(o["name"] == "Vault_Clinical_Interaction_vod__c" for o in sf.describe()["sobjects"])
