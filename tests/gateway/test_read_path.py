"""The read path end to end over HTTP: merge order, de-duplication and account matching, checked against what the
stand-ins hold (read directly over their REST APIs)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

# Seeded people used here and nowhere else mutates them: 0 = no account in eu (NO_MATCH), 1 = two accounts in us
# (CONFLICT), 2..4 = plain. Person 5 is the de-duplication subject (this module adds records to it).
PLAIN = ["0PE000000000003", "0PE000000000004", "0PE000000000005"]
DEDUP_PERSON = "0PE000000000006"


def _node_view(e) -> dict:  # noqa: ANN001
    return {"id": e.id, "kind": e.kind, "date": e.date, "channel": e.channel, "status": e.status}


@pytest.mark.parametrize("person_id", PLAIN)
def test_timeline_is_both_sources_merged_newest_first(person_id, gid, expected, timeline_of) -> None:
    want = expected(person_id)
    assert want
    got = timeline_of(gid("Person", person_id))
    assert [{k: n[k] for k in ("id", "kind", "date", "channel", "status")} for n in got] == [_node_view(e)
                                                                                             for e in want]
    assert all(n["__typename"] == ("ClinicalActivity" if n["kind"] == "CLINICAL" else "MedicalActivity")
               for n in got)
    dates = [n["date"] for n in got]
    assert dates == sorted(dates, reverse=True)


def test_every_source_contributes_somewhere(gid, expected) -> None:
    """The seed gives these people items from the CTMS and both orgs: the merge tests above are not vacuous."""
    sources = {e.key.rsplit(":", 1)[0] for pid in PLAIN for e in expected(pid)}
    assert sources == {"ctms", "crm:us", "crm:eu"}


def test_call_with_its_ctms_medical_activity_is_one_item(gql, gid, ctms_api, crm_api, expected, timeline_of,
                                                         stack) -> None:
    person = next(p for p in stack.world.ctms["person__sys"] if p["id"] == DEDUP_PERSON)
    us = crm_api["us"]
    [account] = us.records(f"SELECT Id FROM Account WHERE External_ID_vod__c = '{person['external_id__v']}'")
    day = (date.today() - timedelta(days=3)).isoformat()
    [call_id] = us.create("Call2_vod__c", [{
        "Account_vod__c": account["Id"], "Call_Date_vod__c": day, "Status_vod__c": "Submitted_vod",
        "Call_Channel_vod__c": "Video_vod", "Subject_vod__c": "Sent to Clinical",
        "Send_To_Vault_Clinical_vod__c": True}])
    copy = {"object_type__v.api_name__v": "medical_activity__v", "person__v": DEDUP_PERSON, "activity_date__v": day,
            "channel__v": ["video__v"], "completed__v": True, "crm_org__v": "us", "crm_call_id__v": call_id,
            "crm_call_key__v": f"us:{call_id}", "subject__v": "Sent to Clinical"}
    [copy_id] = ctms_api.write("crm_activity__v", [copy], idParam="crm_call_key__v")
    # A Medical Activity whose org is not connected to this gateway is only in the CTMS: it shows, from there.
    other = {**copy, "crm_org__v": "apac", "crm_call_id__v": "a0C0A0000000001AAA",
             "crm_call_key__v": "apac:a0C0A0000000001AAA", "activity_date__v": day}
    [other_id] = ctms_api.write("crm_activity__v", [other], idParam="crm_call_key__v")

    got = timeline_of(gid("Person", DEDUP_PERSON))
    ids = [n["id"] for n in got]
    call_gid = gid("MedicalActivity", f"us:{call_id}")
    assert ids.count(call_gid) == 1
    assert gid("ClinicalActivity", copy_id) not in ids and gid("MedicalActivity", copy_id) not in ids
    assert ids.count(gid("MedicalActivity", "apac:a0C0A0000000001AAA")) == 1
    assert len(ids) == len(set(ids))
    assert ids == [e.id for e in expected(DEDUP_PERSON)]
    assert other_id

    body = gql("query($id: ID!) { node(id: $id) { __typename ... on MedicalActivity { crmCallId date channel status "
               "connection { name } person { ctmsId } } } }", {"id": call_gid})
    assert "errors" not in body, body
    assert body["data"]["node"] == {"__typename": "MedicalActivity", "crmCallId": call_id, "date": day,
                                    "channel": "VIDEO", "status": "COMPLETED", "connection": {"name": "us"},
                                    "person": {"ctmsId": DEDUP_PERSON}}


ACCOUNTS = "query($id: ID!) { person(id: $id) { accounts { connection { name } accountId name } } }"


def _accounts(crm_api, org: str, field: str, value: str) -> list[str]:  # noqa: ANN001
    return [a["Id"] for a in crm_api[org].records(f"SELECT Id FROM Account WHERE {field} = '{value}'")]


def test_accounts_show_exactly_one_match_and_hide_none_and_several(gql, gid, stack, crm_api) -> None:
    people = stack.world.ctms["person__sys"]
    first, second, third = people[0], people[1], people[2]
    # Person 0: one account in us; none in eu (NO_MATCH).
    assert len(_accounts(crm_api, "us", "External_ID_vod__c", first["external_id__v"])) == 1
    assert _accounts(crm_api, "eu", "NPI_Number__c", first["npi_number__c"]) == []
    # Person 1: two accounts in us (CONFLICT); one in eu.
    assert len(_accounts(crm_api, "us", "External_ID_vod__c", second["external_id__v"])) == 2
    assert len(_accounts(crm_api, "eu", "NPI_Number__c", second["npi_number__c"])) == 1

    def shown(person: dict) -> dict[str, str]:
        body = gql(ACCOUNTS, {"id": gid("Person", person["id"])})
        assert "errors" not in body, body
        return {a["connection"]["name"]: a["accountId"] for a in body["data"]["person"]["accounts"]}

    assert shown(first) == {"us": _accounts(crm_api, "us", "External_ID_vod__c", first["external_id__v"])[0]}
    assert shown(second) == {"eu": _accounts(crm_api, "eu", "NPI_Number__c", second["npi_number__c"])[0]}
    assert shown(third) == {"us": _accounts(crm_api, "us", "External_ID_vod__c", third["external_id__v"])[0],
                            "eu": _accounts(crm_api, "eu", "NPI_Number__c", third["npi_number__c"])[0]}
    body = gql(ACCOUNTS, {"id": gid("Person", first["id"])})
    assert body["data"]["person"]["accounts"][0]["name"] == f"{first['first_name__sys']} {first['last_name__sys']}"


def test_people_page_and_person_lookup_agree_with_the_ctms(gql, gid, ctms_api) -> None:
    rows = ctms_api.rows("SELECT id, first_name__sys, last_name__sys, email__sys FROM person__sys ORDER BY id ASC")
    seen: list[dict] = []
    after = None
    while True:
        body = gql("query($after: String) { people(first: 15, after: $after) { edges { node { id ctmsId firstName "
                   "lastName email } } pageInfo { hasNextPage endCursor } } }", {"after": after})
        assert "errors" not in body, body
        conn = body["data"]["people"]
        seen += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert [p["ctmsId"] for p in seen] == [r["id"] for r in rows]
    assert all(p["id"] == gid("Person", p["ctmsId"]) for p in seen)
    assert [(p["firstName"], p["lastName"], p["email"]) for p in seen] == [
        (r["first_name__sys"], r["last_name__sys"], r["email__sys"]) for r in rows]
    body = gql('{ people(search: "aiko") { edges { node { firstName } } } }')
    assert body["data"]["people"]["edges"] and all(e["node"]["firstName"] == "Aiko"
                                                   for e in body["data"]["people"]["edges"])
