"""A 300-item timeline (many items on the same dates, from the CTMS and both orgs) paged 7 at a time, and every
filter, each checked against what the stand-ins hold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

# ~300 records written to the stand-ins and read back page by page; the merge, cursors and filters are tested over
# in-memory sources in tests/resolvers/test_timeline.py.
pytestmark = pytest.mark.slow
PERSON = "0PE000000000008"  # this module adds ~300 records to this person; nothing else touches it
VAULT_CHANNELS = ["in_person__v", "video__v", "phone__v", "chat_text__v", "email__v", "other__v"]
CRM_CHANNELS = ["Face_to_face_vod", "Video_vod", "Phone_vod", "Message_vod", "Email_vod", "Other_vod"]


@pytest.fixture(scope="module")
def busy(stack, ctms_api, crm_api) -> str:
    """200 clinical activities (one Vault POST) and 60 + 40 calls sent to Clinical (sObject Collections), spread
    over 12 dates so that every date holds items of all three sources."""
    person = next(p for p in stack.world.ctms["person__sys"] if p["id"] == PERSON)
    study = next(sp for sp in stack.world.ctms["study_person__clin"] if sp["person__clin"] == PERSON)["study__clin"]
    today = date.today()
    days = [today - timedelta(days=d) for d in (0, 1, 2, 5, 9, 14, 30, 31, 60, 90)] + [today + timedelta(days=7),
                                                                                      today + timedelta(days=20)]
    rows = []
    for i in range(200):
        day = days[i % len(days)]
        rows.append({"object_type__v.api_name__v": "clinical_activity__v", "person__v": PERSON, "study__v": study,
                     "activity_date__v": day.isoformat(), "channel__v": [VAULT_CHANNELS[i % 6]],
                     "completed__v": day <= today and i % 3 != 0, "subject__v": f"Bulk clinical {i}"})
    assert len(ctms_api.write("crm_activity__v", rows)) == 200
    for org, field, value, count in (("us", "External_ID_vod__c", person["external_id__v"], 60),
                                     ("eu", "NPI_Number__c", person["npi_number__c"], 40)):
        [account] = crm_api[org].records(f"SELECT Id FROM Account WHERE {field} = '{value}'")
        calls = []
        for i in range(count):
            day = days[(i * 5) % len(days)]
            status = "Planned_vod" if day > today else ["Submitted_vod", "Saved_vod", "Planned_vod"][i % 3]
            calls.append({"Account_vod__c": account["Id"], "Call_Date_vod__c": day.isoformat(), "Status_vod__c": status,
                          "Call_Channel_vod__c": CRM_CHANNELS[(i + 2) % 6], "Subject_vod__c": f"Bulk call {i}",
                          "Send_To_Vault_Clinical_vod__c": True})
        # Calls not sent to Clinical never appear.
        calls += [{**calls[0], "Send_To_Vault_Clinical_vod__c": False, "Subject_vod__c": "Not sent"}] * 3
        assert len(crm_api[org].create("Call2_vod__c", calls)) == count + 3
    return PERSON


def _view(nodes: list[dict]) -> list[tuple]:
    return [(n["id"], n["kind"], n["date"], n["channel"], n["status"]) for n in nodes]


def _want(items) -> list[tuple]:  # noqa: ANN001
    return [(e.id, e.kind, e.date, e.channel, e.status) for e in items]


def test_pages_of_seven_return_every_item_exactly_once(busy, gid, gql, expected) -> None:
    want = expected(busy)
    assert len(want) >= 300
    same_day = {}
    for e in want:
        same_day.setdefault(e.date, set()).add(e.key.rsplit(":", 1)[0])
    assert sum(1 for s in same_day.values() if s == {"ctms", "crm:us", "crm:eu"}) >= 8  # ties across sources

    query = """query($id: ID!, $after: String) { person(id: $id) { timeline(first: 7, after: $after) {
      edges { cursor node { id kind date channel status } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }"""
    nodes: list[dict] = []
    after = None
    pages = 0
    while True:
        body = gql(query, {"id": gid("Person", busy), "after": after})
        assert "errors" not in body, body
        conn = body["data"]["person"]["timeline"]
        pages += 1
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        nodes += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        assert len(conn["edges"]) == 7
        after = conn["pageInfo"]["endCursor"]
    assert pages == -(-len(want) // 7)
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids)), "an item was repeated"
    assert _view(nodes) == _want(want)


def test_cursor_from_the_middle_resumes_exactly_there(busy, gid, gql, expected) -> None:
    want = expected(busy)
    first = gql("query($id: ID!) { person(id: $id) { timeline(first: 100) { edges { cursor node { id } } } } }",
                {"id": gid("Person", busy)})["data"]["person"]["timeline"]["edges"]
    for i in (0, 6, 41, 99):
        body = gql("query($id: ID!, $a: String) { person(id: $id) { timeline(first: 5, after: $a) { edges { node { id "
                   "} } } } }", {"id": gid("Person", busy), "a": first[i]["cursor"]})
        assert [e["node"]["id"] for e in body["data"]["person"]["timeline"]["edges"]] == [
            e.id for e in want[i + 1:i + 6]]


def _filtered(want, f: dict) -> list:  # noqa: ANN001
    def keep(e) -> bool:  # noqa: ANN001
        return ((f.get("from") is None or e.date >= f["from"]) and (f.get("to") is None or e.date <= f["to"])
                and (f.get("channels") is None or e.channel in f["channels"])
                and (f.get("statuses") is None or e.status in f["statuses"])
                and (f.get("kinds") is None or e.kind in f["kinds"]))
    return [e for e in want if keep(e)]


TODAY = date.today()
FILTERS = [
    {"from": (TODAY - timedelta(days=14)).isoformat()},
    {"to": (TODAY - timedelta(days=30)).isoformat()},
    {"from": (TODAY - timedelta(days=31)).isoformat(), "to": (TODAY - timedelta(days=2)).isoformat()},
    {"from": TODAY.isoformat(), "to": TODAY.isoformat()},
    {"channels": ["PHONE"]},
    {"channels": ["IN_PERSON", "CHAT_TEXT", "EMAIL"]},
    {"statuses": ["COMPLETED"]},
    {"statuses": ["PLANNED"]},
    {"statuses": ["PLANNED", "COMPLETED"]},
    {"kinds": ["CLINICAL"]},
    {"kinds": ["MEDICAL"]},
    {"kinds": ["MEDICAL"], "statuses": ["PLANNED"], "channels": ["VIDEO", "OTHER"],
     "from": (TODAY - timedelta(days=60)).isoformat()},
    {"channels": []},
    {"kinds": []},
]


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
def test_filter_matches_the_expected_set(busy, f, gid, expected, timeline_of) -> None:
    want = _filtered(expected(busy), f)
    if f.get("channels") != [] and f.get("kinds") != []:
        assert want, "the filter case selects nothing: it would not test anything"
    got = timeline_of(gid("Person", busy), page=37, filter=f)
    assert _view(got) == _want(want)
