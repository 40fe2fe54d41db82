"""Updates and deletes of a clinical activity propagate to the org mirrors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.writes.conftest import DELETE, UPDATE, mirrors, wait_until


@pytest.mark.slow  # the propagation itself is tested over in-memory sources (tests/resolvers/test_delivery.py)
def test_update_propagates_every_field(gql, create, crm_api, ctms_api):
    act = create(channel="PHONE", completed=False, day=date.today() + timedelta(days=3), subject="before")["activity"]
    day = (date.today() - timedelta(days=6)).isoformat()
    body = gql(UPDATE, {"input": {"id": act["id"], "date": day, "channel": "EMAIL", "completed": True,
                                  "subject": "after"}})
    assert "errors" not in body, body
    out = body["data"]["updateClinicalActivity"]
    assert out["userErrors"] == []
    assert out["activity"]["channel"] == "EMAIL" and out["activity"]["status"] == "COMPLETED"
    [rec] = ctms_api.rows("SELECT channel__v, completed__v, activity_date__v, subject__v FROM crm_activity__v "
                          f"WHERE id = '{act['ctmsId']}'")
    assert rec == {"channel__v": ["email__v"], "completed__v": True, "activity_date__v": day, "subject__v": "after"}
    for name, api in crm_api.items():
        def updated(api=api) -> list[dict]:
            got = mirrors(api, act["ctmsId"])
            return got if got and got[0]["Subject_vod__c"] == "after" else []
        [vci] = wait_until(updated, what=f"{name} mirror updated")
        assert vci["Interaction_Date_vod__c"] == day and vci["Channel_vod__c"] == "Email_vod"
        assert vci["Status_vod__c"] == "Submitted_vod"
    # Clearing the subject propagates too.
    gql(UPDATE, {"input": {"id": act["id"], "subject": None}})
    for api in crm_api.values():
        wait_until(lambda api=api: mirrors(api, act["ctmsId"])[0]["Subject_vod__c"] is None, what="subject cleared")


def test_update_to_completed_future_date_is_refused(gql, create, crm_api):
    act = create(completed=False, day=date.today() + timedelta(days=3))["activity"]
    out = gql(UPDATE, {"input": {"id": act["id"], "completed": True}})["data"]["updateClinicalActivity"]
    assert out["activity"] is None and out["userErrors"]
    out = gql(UPDATE, {"input": {"id": act["id"], "completed": True,
                                 "date": (date.today() + timedelta(days=1)).isoformat()}}
              )["data"]["updateClinicalActivity"]
    assert out["activity"] is None and out["userErrors"]
    for api in crm_api.values():
        [vci] = mirrors(api, act["ctmsId"])
        assert vci["Status_vod__c"] == "Planned_vod"


@pytest.mark.slow  # the propagation itself is tested over in-memory sources (tests/resolvers/test_delivery.py)
def test_delete_removes_the_mirrors(gql, create, crm_api, ctms_api):
    act = create()["activity"]
    assert all(len(mirrors(api, act["ctmsId"])) == 1 for api in crm_api.values())
    out = gql(DELETE, {"id": act["id"]})["data"]["deleteClinicalActivity"]
    assert out["userErrors"] == [] and out["deletedId"] == act["id"]
    assert ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE id = '{act['ctmsId']}'") == []
    for name, api in crm_api.items():
        wait_until(lambda api=api: mirrors(api, act["ctmsId"]) == [], what=f"{name} mirror deleted")
    again = gql(DELETE, {"id": act["id"]})["data"]["deleteClinicalActivity"]
    assert again["deletedId"] is None and again["userErrors"][0]["code"] == "NOT_FOUND"
