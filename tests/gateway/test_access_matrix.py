"""Every demo profile x every root field and mutation of the schema, and no path that leaks what a profile may not see.

The operations are generated from the schema itself: a field added without an entry in ALLOWED fails here."""

from __future__ import annotations

import json
import re

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
)

from schema.root import schema

CLARA, MARTIN, SOFIA, AMIR, ADA = (f"{u}@ctms.example.com" for u in (
    "clara.oswald", "martin.keller", "sofia.lindgren", "amir.haddad", "ada.admin"))
USERS = [CLARA, MARTIN, SOFIA, AMIR, ADA]
EVERYONE = set(USERS)
CREATE = {CLARA, MARTIN, ADA}  # CLINICAL_ACTIVITY_CREATE
EDIT = {CLARA, MARTIN, ADA}  # CLINICAL_ACTIVITY_EDIT
MEDICAL = {CLARA, SOFIA, ADA}  # MEDICAL_ACTIVITY_VIEW
ADMIN = {ADA}  # CONNECTION_ADMIN

ALLOWED: dict[str, set[str]] = {
    "Query.node": EVERYONE, "Query.viewer": EVERYONE, "Query.person": EVERYONE, "Query.people": EVERYONE,
    "Query.studies": EVERYONE, "Query.connections": EVERYONE, "Query.auditLog": ADMIN,
    "Mutation.createClinicalActivity": CREATE, "Mutation.updateClinicalActivity": EDIT,
    "Mutation.deleteClinicalActivity": EDIT, "Mutation.sendCallToClinical": MEDICAL, "Mutation.logCall": MEDICAL,
    "Mutation.retrySync": ADMIN, "Mutation.updateConnection": ADMIN,
    "Mutation.createConnection": ADMIN, "Mutation.deleteConnection": ADMIN, "Mutation.testConnection": ADMIN,
    "Mutation.reconcile": ADMIN, "Query.reconcileJob": ADMIN,
    "Query.auditEntries": ADMIN, "Query.failedMirrors": ADMIN, "Query.backlog": ADMIN,
    # A connection's name is everyone's; its details are administration.
    "Connection.id": EVERYONE, "Connection.name": EVERYONE, "Connection.enabled": ADMIN, "Connection.crmUrl": ADMIN,
    "Connection.identifier": ADMIN, "Connection.fieldMappings": ADMIN, "Connection.pending": ADMIN,
    "Connection.failed": ADMIN, "Connection.apiVersion": ADMIN, "Connection.auth": ADMIN,
}
PERSON = "0PE000000000004"  # has clinical and medical activities in both orgs


def _value(type_: object) -> str:
    """A literal of this input type: well-formed but naming nothing, so that nothing is ever written."""
    named = get_named_type(type_)
    if isinstance(get_named_type(type_), GraphQLInputObjectType):
        fields = [f"{name}: {_value(f.type)}" for name, f in named.fields.items()
                  if isinstance(f.type, GraphQLNonNull)]
        return "{" + ", ".join(fields) + "}"
    if isinstance(type_, GraphQLNonNull) and isinstance(type_.of_type, GraphQLList):
        return "[]"
    if isinstance(named, GraphQLEnumType):
        return next(iter(named.values))
    literal = {"ID": '"bm9uZTpub25l"', "String": '"matrix"', "Date": '"2030-01-01"', "Boolean": "false",
               "Int": "1", "DateTime": '"2030-01-01T00:00:00Z"'}
    assert isinstance(named, GraphQLScalarType)
    return literal[named.name]


def _operation(kind: str, name: str, field: GraphQLField) -> str:
    args = [f"{a}: {_value(arg.type)}" for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)]
    call = f"{name}({', '.join(args)})" if args else name
    leaf = isinstance(get_named_type(field.type), GraphQLScalarType | GraphQLEnumType)
    return f"{kind} {{ {call}{'' if leaf else ' { __typename }'} }}"


def _root_cases() -> list[tuple[str, str]]:
    gql = schema._schema
    cases = [(f"Query.{n}", _operation("query", n, f)) for n, f in gql.query_type.fields.items()]
    cases += [(f"Mutation.{n}", _operation("mutation", n, f)) for n, f in gql.mutation_type.fields.items()]
    cases += [(f"Connection.{n}", "query { connections { %s } }" % (n if isinstance(
        get_named_type(f.type), GraphQLScalarType) else f"{n} {{ __typename }}"))
              for n, f in gql.type_map["Connection"].fields.items()]
    return cases


CASES = _root_cases()


def test_every_field_has_an_expected_rule() -> None:
    assert sorted(name for name, _ in CASES) == sorted(ALLOWED), "a field of the schema has no entry in ALLOWED"


@pytest.mark.parametrize("user", USERS, ids=lambda u: u.split("@")[0])
@pytest.mark.parametrize(("field", "operation"), CASES, ids=[c[0] for c in CASES])
def test_profile_allows_or_refuses(stack, user, field, operation) -> None:
    body = stack.as_user(user).gql(operation)
    forbidden = [e for e in body.get("errors", []) if e["extensions"]["code"] == "FORBIDDEN"]
    if user in ALLOWED[field]:
        assert forbidden == [], (operation, body)
    else:
        assert forbidden, (operation, body)
        assert all("permission" in e["message"] for e in forbidden)


# -- no leaks by any path ---------------------------------------------------------------------------------

LEAKY = """query($id: ID!, $n: Int) {
  person(id: $id) {
    timeline(first: $n) {
      edges { node { __typename id kind ... on MedicalActivity { crmCallId connection { name } } } }
      pageInfo { hasNextPage }
    }
    medicalOnly: timeline(first: 50, filter: {kinds: [MEDICAL]}) { edges { node { id } } pageInfo { hasNextPage } }
    both: timeline(first: 50, filter: {kinds: [CLINICAL, MEDICAL]}) { edges { node { ...M ...C } } }
  }
}
fragment M on MedicalActivity { id kind }
fragment C on ClinicalActivity { id kind }"""


@pytest.mark.parametrize("user", [MARTIN, AMIR])
def test_medical_activities_do_not_exist_without_the_permission(stack, user, gid, expected) -> None:
    want = expected(PERSON)
    medical = [e for e in want if e.kind == "MEDICAL"]
    clinical = [e for e in want if e.kind == "CLINICAL"]
    assert medical and clinical
    gw = stack.as_user(user)
    # A page exactly as long as the clinical activities: nothing after it, although medical ones exist.
    body = gw.gql(LEAKY, {"id": gid("Person", PERSON), "n": len(clinical)})
    assert "errors" not in body, body
    person = body["data"]["person"]
    assert [e["node"]["id"] for e in person["timeline"]["edges"]] == [e.id for e in clinical]
    assert person["timeline"]["pageInfo"]["hasNextPage"] is False
    assert person["medicalOnly"] == {"edges": [], "pageInfo": {"hasNextPage": False}}
    assert {e["node"]["kind"] for e in person["both"]["edges"]} == {"CLINICAL"}
    text = json.dumps(body)
    assert not any(m.id in text for m in medical)
    for m in medical[:3]:
        found = gw.gql("query($id: ID!) { a: node(id: $id) { id } b: node(id: $id) { ... on MedicalActivity { "
                       "subject } } }", {"id": m.id})
        assert found == {"data": {"a": None, "b": None}}
    # The same request as a user with the permission sees them.
    seen = stack.as_user(SOFIA).gql(LEAKY, {"id": gid("Person", PERSON), "n": 100})["data"]["person"]
    assert {e["node"]["id"] for e in seen["medicalOnly"]["edges"]} == {m.id for m in medical}


DETAILS = "crmUrl identifier { ctmsField crmField } fieldMappings { crmField } pending failed enabled"


@pytest.mark.parametrize("path", [
    "person(id: $id) { accounts { connection { name %s } } }",
    "person(id: $id) { timeline(first: 5) { edges { node { sync { connection { name %s } } } } } }",
    "person(id: $id) { timeline(first: 5, filter: {kinds: [MEDICAL]}) { edges { node { "
    "... on MedicalActivity { connection { name %s } } } } } }",
    "connections { name %s }",
    "node(id: $conn) { ... on Connection { name %s } }",
])
def test_connection_details_need_the_admin_permission_by_every_path(stack, gid, path) -> None:
    body_text = path % DETAILS
    variables = {k: v for k, v in (("id", gid("Person", PERSON)), ("conn", gid("Connection", "us")))
                 if f"${k}" in body_text}
    query = "query(" + ", ".join(f"${k}: ID!" for k in variables) + ") { " + body_text + " }"
    if not variables:
        query = "query { " + body_text + " }"
    admin = stack.gql(query, variables)
    assert "errors" not in admin, admin
    urls = set(re.findall(r'"crmUrl": "([^"]+)"', json.dumps(admin)))
    assert urls, admin
    body = stack.as_user(CLARA).gql(query, variables)
    text = json.dumps(body)
    assert not any(u in text for u in urls)
    assert "External_ID_vod__c" not in text and "NPI_Number__c" not in text
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"FORBIDDEN"}, body
    # The name alone stays visible (asked with details, the non-null detail fields null their parent).
    names = stack.as_user(CLARA).gql(query.replace(DETAILS, ""), variables)
    assert "errors" not in names and re.search(r'"name": "(us|eu)"', json.dumps(names)), names


def test_every_refusal_is_audited(stack) -> None:
    stack.as_user(AMIR).gql("mutation { retrySync(activityId: \"x\") { __typename } }")
    log = stack.gql("{ auditLog(first: 20) { actor operation outcome detail } }")["data"]["auditLog"]
    entry = next(e for e in log if e["operation"] == "retrySync" and AMIR in e["actor"])
    assert entry["outcome"] == "forbidden" and "CONNECTION_ADMIN" in entry["detail"]


def test_introspection_is_for_administrators(stack) -> None:
    query = "{ __schema { queryType { name } } }"
    assert stack.gql(query)["data"]["__schema"]["queryType"]["name"] == "Query"
    body = stack.as_user(CLARA).gql(query)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN" and not body.get("data")
    body = stack.as_user(CLARA).gql('{ __type(name: "Connection") { fields { name } } }')
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert stack.as_user(CLARA).gql("{ viewer { __typename } }")["data"] == {"viewer": {"__typename": "Viewer"}}


@pytest.mark.parametrize(("policy", "clara", "ada"), [("open", True, True), ("closed", False, False)])
def test_introspection_setting(stack, policy, clara, ada) -> None:
    gw = stack.start_gateway(introspection=policy, worker=False)
    for user, allowed in ((CLARA, clara), (ADA, ada)):
        body = stack.as_user(user, gw).gql("{ __schema { queryType { name } } }")
        assert ("errors" not in body) is allowed, body
