"""The gateway as an Apollo Federation 2 subgraph: the subgraph compatibility suite's queries (`_service`, `_entities`
for each key, `@link`, `@shareable`), under the same access rules, cost budget and error shapes as the rest."""

from __future__ import annotations

import pytest
from graphql import ObjectTypeDefinitionNode, SchemaDefinitionNode, StringValueNode, parse

ADMIN = "ada.admin@ctms.example.com"
CLINICAL_LEAD = "clara.oswald@ctms.example.com"  # MEDICAL_ACTIVITY_VIEW, not CONNECTION_ADMIN
CRA = "martin.keller@ctms.example.com"  # no MEDICAL_ACTIVITY_VIEW
READ_ONLY = "amir.haddad@ctms.example.com"
PERSON = "0PE000000000004"  # read only: has clinical activities, and medical activities in both orgs
FEDERATION_SPEC = "https://specs.apollo.dev/federation/v2.3"

SERVICE = "{ _service { sdl } }"
ENTITIES = """query($representations: [_Any!]!) { _entities(representations: $representations) {
  __typename
  ... on Person { id ctmsId firstName lastName }
  ... on Study { id ctmsId name }
  ... on StudySite { id ctmsId name study { ctmsId } }
  ... on ClinicalActivity { id ctmsId kind date }
  ... on MedicalActivity { id crmCallId kind date connection { name } }
} }"""


@pytest.fixture(scope="module")
def subgraph(stack):
    """A gateway serving the federated subgraph, spoken to as the admin demo user."""
    return stack.start_gateway(federation=True)


@pytest.fixture(scope="module")
def sdl(subgraph) -> str:
    body = subgraph.gql(SERVICE)
    assert "errors" not in body, body
    return body["data"]["_service"]["sdl"]


def _entities(gw, *representations: dict) -> dict:
    return gw.gql(ENTITIES, {"representations": list(representations)})


def _codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


# -- _service ------------------------------------------------------------------------------------------------------

def test_service_sdl_links_federation_2_and_imports_what_it_uses(sdl) -> None:
    [schema_def] = [d for d in parse(sdl).definitions if isinstance(d, SchemaDefinitionNode)]
    [link] = [d for d in schema_def.directives if d.name.value == "link"]
    args = {a.name.value: a.value for a in link.arguments}
    assert isinstance(args["url"], StringValueNode) and args["url"].value == FEDERATION_SPEC
    assert sorted(v.value for v in args["import"].values) == ["@key", "@shareable"]


def test_service_sdl_declares_the_keys(sdl) -> None:
    keys = {d.name.value: [a.value.value for x in d.directives or () if x.name.value == "key"
                           for a in x.arguments or () if a.name.value == "fields"]
            for d in parse(sdl).definitions if isinstance(d, ObjectTypeDefinitionNode)}
    assert {name: fields for name, fields in keys.items() if fields} == {
        "Person": ["id", "ctmsId"], "Study": ["id", "ctmsId"], "StudySite": ["id", "ctmsId"],
        "ClinicalActivity": ["id", "ctmsId"], "MedicalActivity": ["id", "connection { name } crmCallId"]}


def test_service_sdl_marks_page_info_shareable(sdl) -> None:
    [page_info] = [d for d in parse(sdl).definitions
                   if isinstance(d, ObjectTypeDefinitionNode) and d.name.value == "PageInfo"]
    assert [d.name.value for d in page_info.directives] == ["shareable"]


def test_service_sdl_is_the_exported_subgraph_schema(sdl, stack) -> None:
    from pathlib import Path

    exported = Path(__file__).resolve().parents[2] / "schema.subgraph.graphql"
    assert sdl.strip() == exported.read_text().strip()


def test_service_counts_as_introspection(stack, subgraph) -> None:
    for email in (CLINICAL_LEAD, READ_ONLY):
        body = stack.as_user(email, subgraph).gql(SERVICE)
        assert body["data"] is None and _codes(body) == ["FORBIDDEN"], body
    # An alias or a fragment does not get round it.
    body = stack.as_user(READ_ONLY, subgraph).gql("query { a: __typename ...F } fragment F on Query { s: _service "
                                                  "{ sdl } }")
    assert body["data"] is None and _codes(body) == ["FORBIDDEN"], body


def test_service_is_open_where_introspection_is_open(stack) -> None:
    gw = stack.as_user(READ_ONLY, stack.start_gateway(federation=True, introspection="open", worker=False))
    body = gw.gql(SERVICE)
    assert "errors" not in body and "@key" in body["data"]["_service"]["sdl"]


def test_the_standalone_gateway_is_no_subgraph(stack) -> None:
    for query in (SERVICE, '{ _entities(representations: [{__typename: "Person", ctmsId: "x"}]) { __typename } }'):
        body = stack.gql(query)
        assert _codes(body) == ["GRAPHQL_VALIDATION_FAILED"], body


# -- _entities, one key at a time ------------------------------------------------------------------------------------

def test_person_by_id_and_by_ctms_id(subgraph, ctms_api, gid) -> None:
    people = ctms_api.rows("SELECT id, first_name__sys, last_name__sys FROM person__sys")[:3]
    reps = [{"__typename": "Person", "id": gid("Person", p["id"])} for p in people]
    reps += [{"__typename": "Person", "ctmsId": p["id"]} for p in reversed(people)]
    body = _entities(subgraph, *reps)
    assert "errors" not in body, body
    want = [{"__typename": "Person", "id": gid("Person", p["id"]), "ctmsId": p["id"],
             "firstName": p["first_name__sys"], "lastName": p["last_name__sys"]} for p in people]
    assert body["data"]["_entities"] == want + want[::-1]


def test_study_and_site_by_each_key(subgraph, ctms_api, gid) -> None:
    [study] = ctms_api.rows("SELECT id, name__v FROM study__v")[:1]
    [site] = ctms_api.rows("SELECT id, name__v, study__v FROM site__v")[:1]
    body = _entities(subgraph, {"__typename": "Study", "id": gid("Study", study["id"])},
                     {"__typename": "Study", "ctmsId": study["id"]},
                     {"__typename": "StudySite", "id": gid("StudySite", site["id"])},
                     {"__typename": "StudySite", "ctmsId": site["id"]})
    assert "errors" not in body, body
    want_study = {"__typename": "Study", "id": gid("Study", study["id"]), "ctmsId": study["id"],
                  "name": study["name__v"]}
    want_site = {"__typename": "StudySite", "id": gid("StudySite", site["id"]), "ctmsId": site["id"],
                 "name": site["name__v"], "study": {"ctmsId": site["study__v"]}}
    assert body["data"]["_entities"] == [want_study, want_study, want_site, want_site]


def test_clinical_activity_by_each_key(subgraph, expected) -> None:
    clinical = next(e for e in expected(PERSON) if e.kind == "CLINICAL")
    ctms_id = clinical.key.removeprefix("ctms:")
    body = _entities(subgraph, {"__typename": "ClinicalActivity", "id": clinical.id},
                     {"__typename": "ClinicalActivity", "ctmsId": ctms_id})
    assert "errors" not in body, body
    want = {"__typename": "ClinicalActivity", "id": clinical.id, "ctmsId": ctms_id, "kind": "CLINICAL",
            "date": clinical.date}
    assert body["data"]["_entities"] == [want, want]


def _medical(expected) -> tuple:
    """A medical activity read from a connected org: (expected entry, org, call id)."""
    entry = next(e for e in expected(PERSON) if e.kind == "MEDICAL" and e.key.startswith("crm:"))
    _, org, call_id = entry.key.split(":")
    return entry, org, call_id


def test_medical_activity_by_id_and_by_compound_key(subgraph, expected) -> None:
    entry, org, call_id = _medical(expected)
    body = _entities(subgraph, {"__typename": "MedicalActivity", "id": entry.id},
                     {"__typename": "MedicalActivity", "crmCallId": call_id, "connection": {"name": org}})
    assert "errors" not in body, body
    want = {"__typename": "MedicalActivity", "id": entry.id, "crmCallId": call_id, "kind": "MEDICAL",
            "date": entry.date, "connection": {"name": org}}
    assert body["data"]["_entities"] == [want, want]


def test_an_unknown_entity_is_null(subgraph, gid) -> None:
    body = _entities(subgraph, {"__typename": "Person", "ctmsId": "0PE999999999999"},
                     {"__typename": "Study", "id": gid("Study", "0ST999999999999")})
    assert body == {"data": {"_entities": [None, None]}}


def test_a_bad_representation_fails_alone(subgraph, ctms_api, gid) -> None:
    [person] = ctms_api.rows("SELECT id FROM person__sys")[:1]
    good = {"__typename": "Person", "ctmsId": person["id"]}
    bad = [{"__typename": "Nope", "id": "x"}, {"id": gid("Person", person["id"])}, {"__typename": "Person"},
           {"__typename": "Person", "id": gid("Study", person["id"])}, {"__typename": "Person", "id": "%%%"},
           {"__typename": "Person", "ctmsId": 42}, {"__typename": "Person", "ctmsId": "a:b"},
           {"__typename": "MedicalActivity", "crmCallId": "x"}, {"__typename": "Study", "ctmsId": ["x"]}]
    body = _entities(subgraph, good, *bad, good)
    found = body["data"]["_entities"]
    assert found[0] == found[-1] and found[0]["ctmsId"] == person["id"]
    assert found[1:-1] == [None] * len(bad)
    assert sorted(e["path"][1] for e in body["errors"]) == list(range(1, len(bad) + 1))
    assert set(_codes(body)) == {"BAD_USER_INPUT"}
    assert all(e["extensions"].get("requestId") for e in body["errors"])
    assert all("Internal" not in e["message"] for e in body["errors"]), body["errors"]


def test_a_representation_that_is_no_object_is_refused(subgraph) -> None:
    body = subgraph.gql('{ _entities(representations: ["Person"]) { __typename } }')
    assert body["data"]["_entities"] == [None] and _codes(body) == ["BAD_USER_INPUT"], body


# -- the same access rules ---------------------------------------------------------------------------------------

def test_a_medical_activity_needs_the_permission(stack, subgraph, expected) -> None:
    entry, org, call_id = _medical(expected)
    reps = [{"__typename": "MedicalActivity", "id": entry.id},
            {"__typename": "MedicalActivity", "crmCallId": call_id, "connection": {"name": org}}]
    clinical = next(e for e in expected(PERSON) if e.kind == "CLINICAL")
    reps.append({"__typename": "ClinicalActivity", "id": clinical.id})
    without = _entities(stack.as_user(CRA, subgraph), *reps)
    # As with node(): without the permission a medical activity does not exist; clinical ones stay visible.
    assert "errors" not in without, without
    assert [e and e["__typename"] for e in without["data"]["_entities"]] == [None, None, "ClinicalActivity"]
    with_it = _entities(stack.as_user(CLINICAL_LEAD, subgraph), *reps)
    assert "errors" not in with_it, with_it
    assert [e["id"] for e in with_it["data"]["_entities"]] == [entry.id, entry.id, clinical.id]


def test_connection_details_stay_admin_only(stack, subgraph, expected) -> None:
    entry, org, _ = _medical(expected)
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on MedicalActivity { id connection { name crmUrl pending } } } }"""
    reps = {"r": [{"__typename": "MedicalActivity", "id": entry.id}]}
    body = stack.as_user(CLINICAL_LEAD, subgraph).gql(query, reps)
    assert sorted(_codes(body)) == ["FORBIDDEN"], body
    assert body["errors"][0]["path"][:3] == ["_entities", 0, "connection"]
    admin = subgraph.gql(query, reps)
    assert "errors" not in admin, admin
    connection = admin["data"]["_entities"][0]["connection"]
    assert connection["name"] == org and connection["crmUrl"] == stack.orgs[org].url


def test_mutations_keep_their_permission(stack, subgraph) -> None:
    body = stack.as_user(READ_ONLY, subgraph).gql(
        'mutation { retrySync(activityId: "x") { __typename } }')
    assert _codes(body) == ["FORBIDDEN"], body


def test_the_cost_budget_counts_each_representation(subgraph, gid) -> None:
    """40 people with 100 timeline entries each cost about 12,000 (over the 10,000 budget); 10 cost about 3,000."""
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Person { timeline(first: 100) { edges { node { id kind } } } } } }"""
    rep = {"__typename": "Person", "id": gid("Person", PERSON)}
    refused = subgraph.gql(query, {"r": [rep] * 40})
    assert refused["data"] is None and _codes(refused) == ["QUERY_TOO_COSTLY"], refused
    assert refused["errors"][0]["extensions"]["cost"] > 10_000
    allowed = subgraph.gql(query, {"r": [rep] * 10})
    assert "errors" not in allowed and len(allowed["data"]["_entities"]) == 10


def test_the_subgraph_answers_as_the_standalone_gateway(stack, subgraph, gid) -> None:
    """Abstract types (the ActivityContext union, the Activity and Node interfaces) resolve to the same types."""
    query = """query($id: ID!) { person(id: $id) { ctmsId timeline(first: 100) { edges { node {
      __typename id ... on ClinicalActivity { context { __typename ... on Node { id } } } } } } }
      node(id: $id) { __typename id } }"""
    variables = {"id": gid("Person", PERSON)}
    standalone, federated = stack.gql(query, variables), subgraph.gql(query, variables)
    assert "errors" not in federated and federated == standalone
    contexts = {e["node"]["context"]["__typename"] for e in federated["data"]["person"]["timeline"]["edges"]
                if "context" in e["node"]}
    assert len(contexts) >= 2, contexts
