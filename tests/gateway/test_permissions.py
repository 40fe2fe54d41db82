"""A user without "view Medical Activity" never sees a medical activity: not in the timeline (whatever the filter),
not through node(), where it does not exist."""

from __future__ import annotations

import pytest

PERSON = "0PE000000000004"  # read only: has medical activities in both orgs


@pytest.fixture(scope="module")
def restricted(stack):
    """The gateway as a clinical research associate: create and edit clinical activities, no MEDICAL_ACTIVITY_VIEW."""
    return stack.as_user("martin.keller@ctms.example.com")


def test_viewer_lacks_the_permission(restricted) -> None:
    body = restricted.gql("{ viewer { permissions } }")
    assert sorted(body["data"]["viewer"]["permissions"]) == ["CLINICAL_ACTIVITY_CREATE", "CLINICAL_ACTIVITY_EDIT"]


@pytest.mark.parametrize("f", [None, {"kinds": ["MEDICAL"]}, {"kinds": ["CLINICAL", "MEDICAL"]},
                               {"statuses": ["COMPLETED"]}])
def test_timeline_has_no_medical_activity(restricted, gid, expected, timeline_of, f) -> None:
    want = expected(PERSON)
    assert any(e.kind == "MEDICAL" for e in want)
    got = timeline_of(gid("Person", PERSON), page=7, filter=f, gql=restricted.gql)
    assert all(n["kind"] == "CLINICAL" and n["__typename"] == "ClinicalActivity" for n in got)
    clinical = [e.id for e in want if e.kind == "CLINICAL" and
                (f is None or "statuses" not in f or e.status in f["statuses"])]
    assert [n["id"] for n in got] == ([] if f == {"kinds": ["MEDICAL"]} else clinical)


def test_node_does_not_find_a_medical_activity(restricted, stack, gid, expected) -> None:
    medical = next(e for e in expected(PERSON) if e.kind == "MEDICAL")
    query = "query($id: ID!) { node(id: $id) { id ... on Activity { kind } } }"
    # Without the permission a medical activity does not exist: the same answer as an unknown id.
    assert restricted.gql(query, {"id": medical.id}) == {"data": {"node": None}}
    # The same id is visible to a user who holds the permission.
    assert stack.gql(query, {"id": medical.id})["data"]["node"] == {"id": medical.id, "kind": "MEDICAL"}
    # Clinical activities stay visible.
    clinical = next(e for e in expected(PERSON) if e.kind == "CLINICAL")
    assert restricted.gql(query, {"id": clinical.id})["data"]["node"] == {"id": clinical.id, "kind": "CLINICAL"}


def test_ctms_copies_of_calls_are_medical_too(restricted, stack, ctms_api, gid, timeline_of) -> None:
    """A Medical Activity held only in the CTMS (its org not connected) is a medical activity as well."""
    person = "0PE000000000010"
    copy = {"object_type__v.api_name__v": "medical_activity__v", "person__v": person, "activity_date__v": "2026-01-05",
            "channel__v": ["phone__v"], "completed__v": True, "crm_org__v": "apac",
            "crm_call_id__v": "a0C0A0000000099AAA", "crm_call_key__v": "apac:a0C0A0000000099AAA"}
    ctms_api.write("crm_activity__v", [copy], idParam="crm_call_key__v")
    medical_id = gid("MedicalActivity", "apac:a0C0A0000000099AAA")
    assert medical_id in [n["id"] for n in timeline_of(gid("Person", person))]
    assert medical_id not in [n["id"] for n in timeline_of(gid("Person", person), gql=restricted.gql)]
    body = restricted.gql("query($id: ID!) { node(id: $id) { id } }", {"id": medical_id})
    assert body == {"data": {"node": None}}
