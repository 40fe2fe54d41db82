"""Connection administration through GraphQL: create, update (every field), delete (refused while mirrors are
pending, unless forced) and test (one verdict per check), by an admin only, each in the audit trail.

A gateway of its own over the shared stand-ins and a database of its own (no worker): the connections these tests
add, break and remove are never seen by the other tests."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from datasources.store.db import create_engine
from datasources.store.repo import MirrorPlan, Store
from emulators.seed import CRM_CREDENTIALS
from gateway.demo import DEMO_CLIENT_ID_ENV, DEMO_CLIENT_SECRET_ENV, DEMO_JWT_PRIVATE_KEY_ENV, configure
from tests.conftest import Gateway, global_id

CLARA = "clara.oswald@ctms.example.com"
WRONG_SECRET_ENV, OTHER_KEY_ENV = "CCGW_TEST_ADMIN_WRONG_SECRET", "CCGW_TEST_ADMIN_OTHER_KEY"
FIELDS = """name enabled crmUrl apiVersion identifier { ctmsField crmField ctmsFieldKind crmFieldKind }
  auth { kind clientIdEnv clientSecretEnv usernameEnv passwordEnv privateKeyEnv jwtSubject jwtAudience }"""
PAYLOAD = f"connection {{ {FIELDS} }} userErrors {{ field message code }}"
CREATE = "mutation($input: CreateConnectionInput!) { createConnection(input: $input) { " + PAYLOAD + " } }"
UPDATE = "mutation($input: UpdateConnectionInput!) { updateConnection(input: $input) { " + PAYLOAD + " } }"
DELETE = """mutation($id: ID!, $force: Boolean! = false) { deleteConnection(id: $id, force: $force) {
  deletedId userErrors { field message code } } }"""
TEST = """mutation($id: ID!) { testConnection(id: $id) { ok connection { name }
  checks { name ok message } userErrors { field message code } } }"""
LIST = "{ connections { name } }"
CHECKS = ["REACHABILITY", "CREDENTIALS", "API_VERSION", "CTMS_IDENTIFIER_FIELD", "CRM_IDENTIFIER_FIELD"]
# What the CRM stand-in says when it refuses a sign-in: none of it may reach a verdict.
BACKEND_TEXT = ("invalid client credentials", "authentication failure", "invalid assertion", "audience is invalid",
                "client identifier invalid", "invalid_grant", "invalid_client")


@pytest.fixture(scope="module")
def gw(stack) -> Iterator[Gateway]:  # noqa: ANN001
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ccgw-admin-')) / 'gateway.db'}"
    configure(url, stack.orgs)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    # Read by the gateway when it starts, as its other secrets are.
    os.environ.update({WRONG_SECRET_ENV: "not-the-secret", OTHER_KEY_ENV: other})
    try:
        yield stack.start_gateway(database_url=url, worker=False, poll_interval_s=0.0)
    finally:
        for name in (WRONG_SECRET_ENV, OTHER_KEY_ENV):
            os.environ.pop(name, None)


@pytest.fixture
def store(gw: Gateway) -> Iterator[Store]:
    s = Store(create_engine(gw.settings.database_url))
    yield s
    asyncio.run(s.engine.dispose())


@pytest.fixture
def cleanup(gw: Gateway) -> Iterator[list[str]]:
    """Names of connections a test created: removed (forced) after it."""
    names: list[str] = []
    yield names
    for name in names:
        gw.gql(DELETE, {"id": global_id("Connection", name), "force": True})


def _jwt(stack, name: str, **changes: object) -> dict:  # noqa: ANN001
    return {"name": name, "crmUrl": stack.orgs["us"].url, "authKind": "JWT_BEARER", "clientIdEnv": DEMO_CLIENT_ID_ENV,
            "privateKeyEnv": DEMO_JWT_PRIVATE_KEY_ENV, "jwtSubject": CRM_CREDENTIALS["username"],
            "ctmsIdentifierField": "external_id__v", "crmIdentifierField": "External_ID_vod__c", **changes}


def _create(gw: Gateway, cleanup: list[str], values: dict) -> dict:
    cleanup.append(values["name"])
    return gw.gql(CREATE, {"input": values})["data"]["createConnection"]


def _test(gw: Gateway, name: str) -> dict:
    out = gw.gql(TEST, {"id": global_id("Connection", name)})["data"]["testConnection"]
    assert out["userErrors"] == [], out
    assert [c["name"] for c in out["checks"]] == CHECKS
    assert not any(text in c["message"] for c in out["checks"] for text in BACKEND_TEXT), out
    return out


def _verdicts(out: dict) -> dict[str, bool]:
    return {c["name"]: c["ok"] for c in out["checks"]}


def test_create_a_jwt_bearer_connection_and_test_it(stack, gw: Gateway, cleanup: list[str]) -> None:  # noqa: ANN001
    out = _create(gw, cleanup, _jwt(stack, "apac"))
    assert out["userErrors"] == []
    conn = out["connection"]
    assert conn["auth"] == {"kind": "JWT_BEARER", "clientIdEnv": DEMO_CLIENT_ID_ENV, "clientSecretEnv": None,
                            "usernameEnv": None, "passwordEnv": None, "privateKeyEnv": DEMO_JWT_PRIVATE_KEY_ENV,
                            "jwtSubject": CRM_CREDENTIALS["username"], "jwtAudience": None}
    assert conn["apiVersion"] == "66.0" and conn["enabled"] is True and conn["crmUrl"] == stack.orgs["us"].url
    assert conn["identifier"]["crmFieldKind"] == "STANDARD"
    assert "apac" in {c["name"] for c in gw.gql(LIST)["data"]["connections"]}
    tested = _test(gw, "apac")
    assert tested["ok"] is True and all(_verdicts(tested).values()), tested
    assert tested["connection"] == {"name": "apac"}


def test_names_are_unique_and_values_checked_all_at_once(stack, gw: Gateway, cleanup: list[str]) -> None:  # noqa: ANN001
    assert _create(gw, cleanup, _jwt(stack, "apac"))["userErrors"] == []
    again = _create(gw, cleanup, _jwt(stack, "apac", crmUrl=stack.orgs["eu"].url))
    assert again["connection"] is None
    assert again["userErrors"] == [{"field": ["input", "name"], "message": "a connection named apac exists",
                                    "code": "BAD_USER_INPUT"}]
    bad = _create(gw, cleanup, _jwt(stack, "Bad Name", crmUrl="ftp://x", privateKeyEnv=None, jwtSubject="",
                                    apiVersion="v66", crmIdentifierField="x;y"))
    fields = {tuple(e["field"]) for e in bad["userErrors"]}
    assert fields == {("input", "name"), ("input", "crmUrl"), ("input", "privateKeyEnv"), ("input", "jwtSubject"),
                      ("input", "apiVersion"), ("input", "crmIdentifierField")}, bad
    assert {c["name"] for c in gw.gql(LIST)["data"]["connections"]} == {"us", "eu", "apac"}


def test_at_most_ten_connections(stack, gw: Gateway, cleanup: list[str]) -> None:  # noqa: ANN001
    for i in range(8):  # with us and eu: ten
        assert _create(gw, cleanup, _jwt(stack, f"org{i}"))["userErrors"] == []
    refused = _create(gw, cleanup, _jwt(stack, "org8"))
    assert refused["userErrors"][0]["message"] == "at most 10 connections (one per CRM org)"
    assert len(gw.gql(LIST)["data"]["connections"]) == 10


def test_update_changes_every_field_and_keeps_the_old_meanings(stack, gw: Gateway,  # noqa: ANN001
                                                               cleanup: list[str]) -> None:
    _create(gw, cleanup, _jwt(stack, "apac", jwtAudience="https://login.salesforce.com"))
    gid = global_id("Connection", "apac")
    out = gw.gql(UPDATE, {"input": {
        "id": gid, "crmUrl": stack.orgs["eu"].url + "/", "apiVersion": "65.0", "authKind": "CLIENT_CREDENTIALS",
        "clientSecretEnv": DEMO_CLIENT_SECRET_ENV, "privateKeyEnv": None, "jwtSubject": None, "jwtAudience": None,
        "ctmsIdentifierField": "npi_number__c", "crmIdentifierField": "NPI_Number__c", "enabled": False}}
                 )["data"]["updateConnection"]
    assert out["userErrors"] == [], out
    conn = out["connection"]
    assert conn["crmUrl"] == stack.orgs["eu"].url and conn["apiVersion"] == "65.0" and conn["enabled"] is False
    assert conn["auth"] == {"kind": "CLIENT_CREDENTIALS", "clientIdEnv": DEMO_CLIENT_ID_ENV,
                            "clientSecretEnv": DEMO_CLIENT_SECRET_ENV, "usernameEnv": None, "passwordEnv": None,
                            "privateKeyEnv": None, "jwtSubject": None, "jwtAudience": None}
    assert conn["identifier"] == {"ctmsField": "npi_number__c", "crmField": "NPI_Number__c",
                                  "ctmsFieldKind": "CUSTOM", "crmFieldKind": "CUSTOM"}
    # Omitted fields, and a null enabled or identifier field, leave things as they are.
    same = gw.gql(UPDATE, {"input": {"id": gid, "enabled": None, "crmIdentifierField": None,
                                     "apiVersion": None}})["data"]["updateConnection"]["connection"]
    assert same == conn
    assert _test(gw, "apac")["ok"] is True  # now over client credentials, in the other org
    # A change that leaves the connection unable to sign in is refused as a whole.
    refused = gw.gql(UPDATE, {"input": {"id": gid, "authKind": "JWT_BEARER", "enabled": True}}
                     )["data"]["updateConnection"]
    assert {tuple(e["field"]) for e in refused["userErrors"]} == {("input", "privateKeyEnv"), ("input", "jwtSubject")}
    assert gw.gql(UPDATE, {"input": {"id": gid}})["data"]["updateConnection"]["connection"]["enabled"] is False


def test_wrong_credentials_fail_the_credentials_check(stack, gw: Gateway, cleanup: list[str]) -> None:  # noqa: ANN001
    _create(gw, cleanup, _jwt(stack, "wrongsecret", authKind="CLIENT_CREDENTIALS", privateKeyEnv=None,
                              jwtSubject=None, clientSecretEnv=WRONG_SECRET_ENV))
    _create(gw, cleanup, _jwt(stack, "wrongkey", privateKeyEnv=OTHER_KEY_ENV))
    _create(gw, cleanup, _jwt(stack, "unset", privateKeyEnv="CCGW_TEST_NOT_SET_ANYWHERE"))
    for name, why in (("wrongsecret", "the org refused the client credentials (INVALID_CLIENT)"),
                      ("wrongkey", "the org refused the JWT bearer assertion (INVALID_GRANT)"),
                      ("unset", "not set in the gateway's environment: CCGW_TEST_NOT_SET_ANYWHERE")):
        out = _test(gw, name)
        checks = {c["name"]: c for c in out["checks"]}
        assert out["ok"] is False
        assert checks["CREDENTIALS"] == {"name": "CREDENTIALS", "ok": False, "message": why}
        assert checks["REACHABILITY"]["ok"] and checks["API_VERSION"]["ok"] and checks["CTMS_IDENTIFIER_FIELD"]["ok"]
        assert checks["CRM_IDENTIFIER_FIELD"] == {"name": "CRM_IDENTIFIER_FIELD", "ok": False,
                                                  "message": "not checked: the org did not accept the credentials"}


def test_a_missing_identifier_field_fails_its_side_only(stack, gw: Gateway, cleanup: list[str]) -> None:  # noqa: ANN001
    _create(gw, cleanup, _jwt(stack, "nocrmfield", crmIdentifierField="Missing_Field__c"))
    _create(gw, cleanup, _jwt(stack, "noctmsfield", ctmsIdentifierField="missing_field__c"))
    crm = _test(gw, "nocrmfield")
    assert _verdicts(crm) == {**dict.fromkeys(CHECKS, True), "CRM_IDENTIFIER_FIELD": False}
    assert crm["checks"][4]["message"] == "the org's Account object has no field Missing_Field__c"
    ctms = _test(gw, "noctmsfield")
    assert _verdicts(ctms) == {**dict.fromkeys(CHECKS, True), "CTMS_IDENTIFIER_FIELD": False}
    assert ctms["checks"][3]["message"] == "the CTMS person object has no field missing_field__c"


def test_an_unreachable_org_and_an_unknown_version(stack, gw: Gateway, cleanup: list[str]) -> None:  # noqa: ANN001
    _create(gw, cleanup, _jwt(stack, "gone", crmUrl="http://127.0.0.1:9"))
    _create(gw, cleanup, _jwt(stack, "future", apiVersion="99.0"))
    gone = _test(gw, "gone")
    assert _verdicts(gone) == {**dict.fromkeys(CHECKS, False), "CTMS_IDENTIFIER_FIELD": True}
    assert gone["checks"][0]["message"].startswith("http://127.0.0.1:9 did not answer: unreachable")
    assert gone["checks"][1]["message"] == "not checked: the org is not reachable"
    future = _test(gw, "future")
    assert _verdicts(future) == {**dict.fromkeys(CHECKS, True), "API_VERSION": False, "CRM_IDENTIFIER_FIELD": False}
    assert future["checks"][2]["message"] == "the org does not offer API 99.0 (its newest is 66.0)"


def test_delete_is_refused_while_mirrors_are_pending_unless_forced(stack, gw: Gateway, store: Store,  # noqa: ANN001
                                                                  cleanup: list[str]) -> None:
    _create(gw, cleanup, _jwt(stack, "apac"))
    gid = global_id("Connection", "apac")

    async def plan() -> int:
        await store.plan_mirrors("clinical", "0CA000000000001", None, [MirrorPlan("apac"), MirrorPlan("us")])
        await store.plan_mirrors("medical", "apac:a0U000000000001", None, [MirrorPlan("ctms")])
        await store.set_mark("crm:apac:calls", "2026-01-01T00:00:00.000+0000")
        return await store.connection_pending("apac")

    assert asyncio.run(plan()) == 2
    refused = gw.gql(DELETE, {"id": gid})["data"]["deleteConnection"]
    assert refused == {"deletedId": None, "userErrors": [{
        "field": ["force"], "code": "CONFLICT",
        "message": "2 mirrors of apac are pending: let them be delivered, or delete with force"}]}
    assert "apac" in {c["name"] for c in gw.gql(LIST)["data"]["connections"]}
    forced = gw.gql(DELETE, {"id": gid, "force": True})["data"]["deleteConnection"]
    assert forced == {"deletedId": gid, "userErrors": []}
    assert "apac" not in {c["name"] for c in gw.gql(LIST)["data"]["connections"]}

    async def left() -> tuple[int, int, str | None]:
        us = [m for rows in await store.mirrors_of("clinical", ["0CA000000000001"]) for m in rows]
        return await store.connection_pending("apac"), len(us), await store.mark("crm:apac:calls")

    assert asyncio.run(left()) == (0, 1, None)  # the us mirror of the same activity stays
    gone = gw.gql(DELETE, {"id": gid})["data"]["deleteConnection"]
    assert gone["userErrors"][0]["code"] == "NOT_FOUND"


def test_delete_without_pending_mirrors_needs_no_force(stack, gw: Gateway, cleanup: list[str]) -> None:  # noqa: ANN001
    _create(gw, cleanup, _jwt(stack, "apac"))
    out = gw.gql(DELETE, {"id": global_id("Connection", "apac")})["data"]["deleteConnection"]
    assert out == {"deletedId": global_id("Connection", "apac"), "userErrors": []}


def test_every_change_is_audited(stack, gw: Gateway, cleanup: list[str]) -> None:  # noqa: ANN001
    gid = global_id("Connection", "apac")
    _create(gw, cleanup, _jwt(stack, "apac"))
    gw.gql(UPDATE, {"input": {"id": gid, "apiVersion": "65.0", "jwtSubject": "someone@crm.example.com"}})
    _test(gw, "apac")
    gw.gql(DELETE, {"id": gid})
    entries = gw.gql("{ auditLog(first: 4) { actor operation targetId outcome detail } }")["data"]["auditLog"]
    assert [e["operation"] for e in entries] == ["deleteConnection", "testConnection", "updateConnection",
                                                 "createConnection"]
    assert all(e["targetId"] == "apac" and e["actor"].endswith("(ada.admin@ctms.example.com)") for e in entries)
    assert json.loads(entries[2]["detail"]) == {"apiVersion": "65.0", "jwtSubject": "(changed)"}
    assert entries[1]["outcome"] == "failed"  # the subject is no user of the org
    assert json.loads(entries[1]["detail"]) == {"failed": ["CREDENTIALS", "CRM_IDENTIFIER_FIELD"]}


def test_connection_administration_needs_the_admin_permission(stack, gw: Gateway,  # noqa: ANN001
                                                              cleanup: list[str]) -> None:
    clara = stack.as_user(CLARA, gw)
    gid = global_id("Connection", "us")
    for query, variables in ((CREATE, {"input": _jwt(stack, "apac")}), (DELETE, {"id": gid, "force": True}),
                             (TEST, {"id": gid}), (UPDATE, {"input": {"id": gid, "apiVersion": "65.0"}}),
                             ("{ connections { apiVersion } }", None), ("{ connections { auth { kind } } }", None)):
        body = clara.gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert {c["name"] for c in gw.gql(LIST)["data"]["connections"]} == {"us", "eu"}
    assert gw.gql("{ connections { name apiVersion } }")["data"]["connections"][1]["apiVersion"] == "66.0"
