"""Rule by rule: what a created clinical activity becomes in each org, and calls sent back to the CTMS."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from tests.conftest import global_id
from tests.writes.conftest import (
    CONFLICT_US,
    MATCHED,
    NO_MATCH_EU,
    SITE,
    STUDY,
    mirrors,
    unique_key,
    wait_until,
)

CHANNELS = {"IN_PERSON": ("in_person__v", "Face_to_face_vod"), "VIDEO": ("video__v", "Video_vod"),
            "PHONE": ("phone__v", "Phone_vod"), "CHAT_TEXT": ("chat_text__v", "Message_vod"),
            "EMAIL": ("email__v", "Email_vod"), "OTHER": ("other__v", "Other_vod")}
OWNER = "Ada Admin (ada.admin@ctms.example.com)"  # the demo user stack.gql acts as


def _accounts(crm_api, person: dict) -> dict[str, str]:
    out = {}
    for org, field, value in (("us", "External_ID_vod__c", person["external_id__v"]),
                              ("eu", "NPI_Number__c", person["npi_number__c"])):
        [acc] = crm_api[org].records(f"SELECT Id FROM Account WHERE {field} = '{value}'")
        out[org] = acc["Id"]
    return out


# What a mirror holds is tested over in-memory sources (tests/resolvers/test_delivery.py), the channel picklists
# one by one in tests/datasources/test_crm_picklists.py; this is the end to end run of every channel.
@pytest.mark.slow
@pytest.mark.parametrize("channel", list(CHANNELS))
def test_create_mirrors_to_both_orgs_with_every_field(channel, create, ctms_api, crm_api):
    completed = channel in ("PHONE", "EMAIL", "OTHER")
    day = date.today() - timedelta(days=3) if completed else date.today() + timedelta(days=5)
    payload = create(channel=channel, completed=completed, day=day, subject=f"mirror {channel}")
    assert payload["userErrors"] == []
    act = payload["activity"]
    assert {s["connection"]["name"]: s["state"] for s in act["sync"]} == {"us": "SYNCED", "eu": "SYNCED"}
    ctms_id = act["ctmsId"]
    [rec] = ctms_api.rows("SELECT id, channel__v, completed__v, owner__v, activity_date__v FROM crm_activity__v "
                          f"WHERE id = '{ctms_id}'")
    assert rec["channel__v"] == [CHANNELS[channel][0]]
    assert rec["completed__v"] is completed and rec["activity_date__v"] == day.isoformat()
    assert rec["owner__v"] == OWNER
    [person] = ctms_api.rows("SELECT id, external_id__v, npi_number__c FROM person__sys "
                             f"WHERE id = '{MATCHED}'")
    accounts = _accounts(crm_api, person)
    for org, api in crm_api.items():
        [vci] = mirrors(api, ctms_id)
        assert vci["Account_vod__c"] == accounts[org]
        assert vci["Interaction_Date_vod__c"] == day.isoformat()
        assert vci["Channel_vod__c"] == CHANNELS[channel][1]
        assert vci["Status_vod__c"] == ("Submitted_vod" if completed else "Planned_vod")
        assert vci["Owner_Text_vod__c"] == OWNER
        assert vci["Subject_vod__c"] == f"mirror {channel}"
        [study] = api.records("SELECT Id, Vault_Study_Id_vod__c FROM Clinical_Study_vod__c "
                              f"WHERE Id = '{vci['Clinical_Study_vod__c']}'")
        assert study["Vault_Study_Id_vod__c"] == STUDY
        [site] = api.records("SELECT Id, Vault_Site_Id_vod__c, Clinical_Study_vod__c FROM Clinical_Site_vod__c "
                             f"WHERE Id = '{vci['Clinical_Site_vod__c']}'")
        assert site["Vault_Site_Id_vod__c"] == SITE and site["Clinical_Study_vod__c"] == study["Id"]
        remote = {s["connection"]["name"]: s["remoteId"] for s in act["sync"]}
        assert remote[org] == vci["Id"]


def test_study_context_references_the_study_and_no_site(create, crm_api):
    act = create(context={"studyId": global_id("Study", STUDY)})["activity"]
    for api in crm_api.values():
        [vci] = mirrors(api, act["ctmsId"])
        assert vci["Clinical_Study_vod__c"] and vci["Clinical_Site_vod__c"] is None
        assert vci["Context_Type_vod__c"] == "Study"


@pytest.mark.slow  # NO_MATCH and CONFLICT per org: tests/resolvers/test_planning.py
@pytest.mark.parametrize(("person", "org", "state"), [(NO_MATCH_EU, "eu", "NO_MATCH"),
                                                      (CONFLICT_US, "us", "CONFLICT")])
def test_unmatched_org_gets_nothing_and_says_why(person, org, state, create, crm_api):
    payload = create(person=person)
    assert payload["userErrors"] == []
    act = payload["activity"]
    by_org = {s["connection"]["name"]: s for s in act["sync"]}
    other = "us" if org == "eu" else "eu"
    assert by_org[org]["state"] == state and by_org[org]["remoteId"] is None
    assert by_org[other]["state"] == "SYNCED"
    assert mirrors(crm_api[org], act["ctmsId"]) == []
    assert len(mirrors(crm_api[other], act["ctmsId"])) == 1


SEND = """mutation($input: SendCallToClinicalInput!) { sendCallToClinical(input: $input) {
  activity { id channel status owner sync { connection { name } state remoteId } }
  userErrors { field message code } } }"""
LOG = """mutation($input: LogCallInput!) { logCall(input: $input) { callId
  activity { id channel status owner sync { state remoteId } } userErrors { field message code } } }"""


def _medical(ctms_api, org: str, call_id: str) -> list[dict]:
    return ctms_api.rows("SELECT id, object_type__v.api_name__v, channel__v, completed__v, owner__v, person__v, "
                         f"crm_call_key__v, activity_date__v FROM crm_activity__v "
                         f"WHERE crm_call_key__v = '{org}:{call_id}'")


@pytest.mark.slow  # the copy in the CTMS: tests/resolvers/test_delivery.py
def test_send_call_to_clinical_creates_a_medical_activity(gql, ctms_api, crm_api):
    api = crm_api["us"]
    [person] = ctms_api.rows(f"SELECT id, external_id__v FROM person__sys WHERE id = '{MATCHED}'")
    [acc] = api.records(f"SELECT Id FROM Account WHERE External_ID_vod__c = '{person['external_id__v']}'")
    day = (date.today() - timedelta(days=2)).isoformat()
    [call_id] = api.create("Call2_vod__c", [{"Account_vod__c": acc["Id"], "Call_Date_vod__c": day,
                                             "Status_vod__c": "Submitted_vod", "Call_Channel_vod__c": "Video_vod",
                                             "Send_To_Vault_Clinical_vod__c": False}])
    body = gql(SEND, {"input": {"connectionId": global_id("Connection", "us"), "callId": call_id}})
    assert "errors" not in body, body
    out = body["data"]["sendCallToClinical"]
    assert out["userErrors"] == []
    assert out["activity"]["channel"] == "VIDEO" and out["activity"]["status"] == "COMPLETED"
    # Delivered inline, or by the worker just after when the inline deadline passed.
    [med] = wait_until(lambda: _medical(ctms_api, "us", call_id), what="the Medical Activity")
    assert med["object_type__v.api_name__v"] == "medical_activity__v"
    assert med["channel__v"] == ["video__v"] and med["completed__v"] is True
    assert med["person__v"] == MATCHED and med["activity_date__v"] == day
    assert med["owner__v"] and "(" in med["owner__v"]  # the CRM user who created the call
    [call] = api.records(f"SELECT Send_To_Vault_Clinical_vod__c FROM Call2_vod__c WHERE Id = '{call_id}'")
    assert call["Send_To_Vault_Clinical_vod__c"] is True


@pytest.mark.slow
def test_a_call_sent_again_or_at_once_from_two_pages_is_one_medical_activity(gql, ctms_api, crm_api):
    """sendCallToClinical carries no idempotency key: the call itself is the key (a double click, a retried request
    or two users sending it at once make one Medical Activity, and every answer names it)."""
    api = crm_api["us"]
    [person] = ctms_api.rows(f"SELECT id, external_id__v FROM person__sys WHERE id = '{MATCHED}'")
    [acc] = api.records(f"SELECT Id FROM Account WHERE External_ID_vod__c = '{person['external_id__v']}'")
    [call_id] = api.create("Call2_vod__c", [{"Account_vod__c": acc["Id"], "Status_vod__c": "Submitted_vod",
                                             "Call_Date_vod__c": (date.today() - timedelta(days=3)).isoformat(),
                                             "Call_Channel_vod__c": "Phone_vod"}])
    send = {"input": {"connectionId": global_id("Connection", "us"), "callId": call_id}}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: gql(SEND, send), range(4)))
    answers.append(gql(SEND, send))
    ids = {a["data"]["sendCallToClinical"]["activity"]["id"] for a in answers if "errors" not in a}
    assert len(ids) == 1, answers
    wait_until(lambda: _medical(ctms_api, "us", call_id), what="the Medical Activity")
    time.sleep(0.5)  # a second delivery, if any, would have landed by now
    assert len(_medical(ctms_api, "us", call_id)) == 1


@pytest.mark.slow  # the copy in the CTMS: tests/resolvers/test_delivery.py
def test_log_call_sent_to_clinical(gql, ctms_api, crm_api):
    key = unique_key()
    day = (date.today() + timedelta(days=4)).isoformat()
    inp = {"connectionId": global_id("Connection", "eu"), "personId": global_id("Person", MATCHED), "date": day,
           "channel": "CHAT_TEXT", "completed": False, "subject": "logged", "sendToClinical": True,
           "idempotencyKey": key}
    body = gql(LOG, {"input": inp})
    assert "errors" not in body, body
    out = body["data"]["logCall"]
    assert out["userErrors"] == [] and out["callId"]
    assert out["activity"]["channel"] == "CHAT_TEXT" and out["activity"]["status"] == "PLANNED"
    [call] = crm_api["eu"].records("SELECT Id, Call_Channel_vod__c, Status_vod__c, Send_To_Vault_Clinical_vod__c "
                                   f"FROM Call2_vod__c WHERE Id = '{out['callId']}'")
    assert call["Call_Channel_vod__c"] == "Message_vod" and call["Status_vod__c"] == "Planned_vod"
    assert call["Send_To_Vault_Clinical_vod__c"] is True
    [med] = wait_until(lambda: _medical(ctms_api, "eu", out["callId"]), what="the Medical Activity")
    assert med["channel__v"] == ["chat_text__v"] and med["completed__v"] is False
    assert med["person__v"] == MATCHED and med["activity_date__v"] == day and med["owner__v"]
    again = gql(LOG, {"input": inp})["data"]["logCall"]
    assert again["callId"] == out["callId"]
    assert len(_medical(ctms_api, "eu", out["callId"])) == 1
