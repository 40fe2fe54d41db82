"""Bad input of every kind: a clear error, and the stand-ins hold exactly what they held before."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import global_id
from tests.writes.conftest import CREATE, DELETE, UPDATE, count_all, new_input, wait_until

FUTURE = (date.today() + timedelta(days=10)).isoformat()
STUDY_GID = global_id("Study", "0ST000000000001")
SITE_GID = global_id("StudySite", "0SI000000000001")

CREATE_CASES = {
    "empty person id": ({"personId": ""}, ["input", "personId"]),
    "unknown person": ({"personId": global_id("Person", "0PE000000009999")}, ["input", "personId"]),
    "person id of another type": ({"personId": STUDY_GID}, ["input", "personId"]),
    "malformed person id": ({"personId": "not-base64!*"}, ["input", "personId"]),
    "no context": ({"context": {}}, ["input", "context"]),
    "two contexts": ({"context": {"studyId": STUDY_GID, "studySiteId": SITE_GID}}, ["input", "context"]),
    "unknown context": ({"context": {"studyId": global_id("Study", "0ST000000009999")}},
                        ["input", "context", "studyId"]),
    "malformed context id": ({"context": {"studySiteId": "%%%"}}, ["input", "context", "studySiteId"]),
    "completed in the future": ({"completed": True, "date": FUTURE}, ["input"]),
    "subject too long": ({"subject": "x" * 256}, ["input", "subject"]),
    "idempotency key too long": ({"idempotencyKey": "k" * 1000}, ["input", "idempotencyKey"]),
}


def _settled(gql) -> None:
    """Nothing left for the worker (an earlier test's mirrors), so the counts move only because of this test."""
    wait_until(lambda: sum(c["pending"] for c in gql("{ connections { pending } }")["data"]["connections"]) == 0,
               what="no pending mirrors")


@pytest.fixture
def unchanged(gql, ctms_api, crm_api):
    _settled(gql)
    before = count_all(ctms_api, crm_api)
    yield
    assert count_all(ctms_api, crm_api) == before


@pytest.mark.parametrize("case", list(CREATE_CASES))
def test_bad_create_is_a_user_error_and_writes_nothing(case, gql, unchanged):
    changes, path = CREATE_CASES[case]
    inp = {**new_input(), **changes}
    body = gql(CREATE, {"input": inp})
    assert "errors" not in body, body
    out = body["data"]["createClinicalActivity"]
    assert out["activity"] is None
    assert out["userErrors"], out
    assert any(e["field"][:len(path)] == path for e in out["userErrors"]), out["userErrors"]
    assert all(e["message"] and e["code"] for e in out["userErrors"])


@pytest.mark.parametrize("inp", [{"personId": None}, {"date": "2026-02-30"}, {"channel": "PIGEON"},
                                 {"completed": "yes"}, {"context": None}])
def test_wrongly_typed_create_is_a_graphql_error(inp, stack, unchanged):
    r = stack.gateway.post(CREATE, {"input": {**new_input(), **inp}})
    assert r.status_code < 500
    body = r.json()
    assert body.get("errors") and not body.get("data")
    assert "Traceback" not in r.text


def test_completed_future_date_is_refused_with_a_clear_message(gql, unchanged):
    out = gql(CREATE, {"input": new_input(completed=True, day=date.today() + timedelta(days=1))})
    [err] = out["data"]["createClinicalActivity"]["userErrors"]
    assert "future" in err["message"].lower()


@pytest.mark.parametrize("aid", [global_id("ClinicalActivity", "0AC000000099999"), "garbage",
                                 global_id("Person", "0PE000000000003")])
def test_update_and_delete_of_unknown_activity(aid, gql, unchanged):
    upd = gql(UPDATE, {"input": {"id": aid, "channel": "VIDEO"}})
    assert "errors" not in upd, upd
    assert upd["data"]["updateClinicalActivity"]["activity"] is None
    assert upd["data"]["updateClinicalActivity"]["userErrors"][0]["code"] in ("NOT_FOUND", "INVALID_ID")
    dele = gql(DELETE, {"id": aid})
    assert "errors" not in dele, dele
    assert dele["data"]["deleteClinicalActivity"]["deletedId"] is None
    assert dele["data"]["deleteClinicalActivity"]["userErrors"][0]["code"] in ("NOT_FOUND", "INVALID_ID")


@pytest.fixture(scope="module")
def reader(stack):
    """A gateway whose user may view medical activities but neither create nor edit clinical ones."""
    return stack.as_user("sofia.lindgren@ctms.example.com")  # the medical_viewer profile


def test_forbidden_create_update_delete(reader, stack, ctms_api, crm_api):
    act = stack.gql(CREATE, {"input": new_input()})["data"]["createClinicalActivity"]["activity"]
    _settled(stack.gql)
    before = count_all(ctms_api, crm_api)
    for query, variables, name in (
            (CREATE, {"input": new_input()}, "createClinicalActivity"),
            (UPDATE, {"input": {"id": act["id"], "subject": "nope"}}, "updateClinicalActivity"),
            (DELETE, {"id": act["id"]}, "deleteClinicalActivity")):
        body = reader.gql(query, variables)
        assert body["data"] is None or body["data"].get(name) is None, body
        [err] = body["errors"]
        assert err["extensions"]["code"] == "FORBIDDEN", err
        assert err["path"] == [name]
    assert count_all(ctms_api, crm_api) == before
    [rec] = ctms_api.rows(f"SELECT subject__v FROM crm_activity__v WHERE id = '{act['ctmsId']}'")
    assert rec["subject__v"] == "write test"
    # Refusals stay in the audit trail (GxP), read here by an administrator.
    log = stack.gql("{ auditLog(first: 3) { operation outcome detail } }")["data"]["auditLog"]
    assert [(e["operation"], e["outcome"]) for e in log] == [
        ("deleteClinicalActivity", "forbidden"), ("updateClinicalActivity", "forbidden"),
        ("createClinicalActivity", "forbidden")]
    assert "CLINICAL_ACTIVITY_EDIT" in log[0]["detail"]
