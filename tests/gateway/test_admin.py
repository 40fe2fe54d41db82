"""Administration: connections, their identifier mapping and enablement, the audit trail, and who may see them."""

from __future__ import annotations

import pytest

from tests.conftest import global_id

CONNECTIONS = """{ connections { id name enabled crmUrl pending failed
  identifier { ctmsField crmField ctmsFieldKind crmFieldKind }
  fieldMappings { ctmsLabel ctmsField crmLabel crmField description } } }"""
UPDATE = """mutation($input: UpdateConnectionInput!) { updateConnection(input: $input) {
  connection { name enabled identifier { ctmsField crmField ctmsFieldKind crmFieldKind } }
  userErrors { field message code } } }"""
PERSON = """query($id: ID!) { person(id: $id) { accounts { connection { name } accountId }
  timeline(first: 100) { edges { node { __typename ... on MedicalActivity { connection { name } } } } } } }"""
MATCHED = "0PE000000000003"


@pytest.fixture
def restore_connections(stack):  # noqa: ANN001, ANN201
    yield
    for name, ctms_field, crm_field in (("us", "external_id__v", "External_ID_vod__c"),
                                        ("eu", "npi_number__c", "NPI_Number__c")):
        out = stack.gql(UPDATE, {"input": {"id": global_id("Connection", name), "enabled": True,
                                           "ctmsIdentifierField": ctms_field, "crmIdentifierField": crm_field}})
        assert out["data"]["updateConnection"]["userErrors"] == []


def _orgs_seen(stack) -> tuple[set[str], set[str]]:  # noqa: ANN001
    person = stack.gql(PERSON, {"id": global_id("Person", MATCHED)})["data"]["person"]
    accounts = {a["connection"]["name"] for a in person["accounts"]}
    calls = {e["node"]["connection"]["name"] for e in person["timeline"]["edges"]
             if e["node"]["__typename"] == "MedicalActivity"}
    return accounts, calls


def test_connections_show_their_mapping_and_backlog(stack) -> None:
    conns = {c["name"]: c for c in stack.gql(CONNECTIONS)["data"]["connections"]}
    assert set(conns) == {"us", "eu"}
    assert conns["us"]["identifier"] == {"ctmsField": "external_id__v", "crmField": "External_ID_vod__c",
                                         "ctmsFieldKind": "STANDARD", "crmFieldKind": "STANDARD"}
    assert conns["eu"]["identifier"] == {"ctmsField": "npi_number__c", "crmField": "NPI_Number__c",
                                         "ctmsFieldKind": "CUSTOM", "crmFieldKind": "CUSTOM"}
    assert conns["us"]["crmUrl"] == stack.orgs["us"].url and conns["us"]["enabled"] is True
    labels = [(m["ctmsLabel"], m["crmLabel"]) for m in conns["us"]["fieldMappings"]]
    assert ("Date", "Date") in labels and ("Completed", "Status") in labels and ("Channel", "Call Channel") in labels
    assert isinstance(conns["us"]["pending"], int) and isinstance(conns["us"]["failed"], int)


def test_a_disabled_connection_is_neither_read_nor_matched(stack, restore_connections, stats) -> None:
    assert _orgs_seen(stack) == ({"us", "eu"}, {"us", "eu"})
    out = stack.gql(UPDATE, {"input": {"id": global_id("Connection", "eu"), "enabled": False}})
    assert out["data"]["updateConnection"]["connection"]["enabled"] is False
    asked = stats(stack.orgs["eu"]).get("requests", 0)
    accounts, calls = _orgs_seen(stack)
    assert stats(stack.orgs["eu"]).get("requests", 0) == asked  # eu was asked nothing
    # Calls the CTMS holds copies of (sent to Clinical) stay: they are the CTMS's records, no longer left to eu.
    assert accounts == {"us"} and "us" in calls
    stack.gql(UPDATE, {"input": {"id": global_id("Connection", "eu"), "enabled": True}})
    assert _orgs_seen(stack) == ({"us", "eu"}, {"us", "eu"})


def test_identifier_fields_are_checked_against_each_side(stack, restore_connections) -> None:
    eu = global_id("Connection", "eu")
    cases = [({"crmIdentifierField": "Not_A_Field__c"}, ["input", "crmIdentifierField"]),
             ({"ctmsIdentifierField": "nope__c"}, ["input", "ctmsIdentifierField"]),
             ({"crmIdentifierField": "Name; DROP"}, ["input", "crmIdentifierField"])]
    for change, field in cases:
        out = stack.gql(UPDATE, {"input": {"id": eu, **change}})["data"]["updateConnection"]
        assert out["connection"] is None and out["userErrors"][0]["field"] == field, out
    conns = {c["name"]: c for c in stack.gql(CONNECTIONS)["data"]["connections"]}
    assert conns["eu"]["identifier"]["crmField"] == "NPI_Number__c"  # nothing changed
    # A real change: eu now matches on the standard field, which its accounts leave empty.
    out = stack.gql(UPDATE, {"input": {"id": eu, "ctmsIdentifierField": "external_id__v",
                                       "crmIdentifierField": "External_ID_vod__c"}})["data"]["updateConnection"]
    assert out["userErrors"] == [] and out["connection"]["identifier"]["crmFieldKind"] == "STANDARD"
    assert _orgs_seen(stack)[0] == {"us"}


def test_unknown_connection_is_a_user_error(stack) -> None:
    out = stack.gql(UPDATE, {"input": {"id": global_id("Connection", "apac"), "enabled": False}})
    [error] = out["data"]["updateConnection"]["userErrors"]
    assert error["field"] == ["input", "id"] and error["code"] == "NOT_FOUND"


def test_the_audit_log_records_who_did_what(stack, restore_connections) -> None:
    stack.gql(UPDATE, {"input": {"id": global_id("Connection", "eu"), "enabled": False}})
    [entry, *_] = stack.gql("{ auditLog(first: 5) { at actor operation targetId outcome detail } }")["data"][
        "auditLog"]
    assert entry["operation"] == "updateConnection" and entry["targetId"] == "eu"
    assert entry["actor"].endswith("(ada.admin@ctms.example.com)") and entry["outcome"] == "ok"
    assert '"enabled": false' in entry["detail"]


def test_administration_needs_the_admin_permission(stack) -> None:
    gw = stack.as_user("clara.oswald@ctms.example.com")  # clinical lead: everything but CONNECTION_ADMIN
    for query, variables in ((CONNECTIONS, None), ("{ auditLog { operation } }", None),
                             (UPDATE, {"input": {"id": global_id("Connection", "eu"), "enabled": False}})):
        body = gw.gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert {c["name"]: c["enabled"] for c in stack.gql(CONNECTIONS)["data"]["connections"]}["eu"] is True
