"""One mutation per operation, refused before anything runs. Found by the fuzz tests (tests/fuzz/): in `mutation {
updateClinicalActivity(...) sendCallToClinical(...) }` the update wrote the CTMS and its mirror, then the send failed
(its org refused the sign-in), and as every payload is non-null the answer was `data: null` with the send's error
only: nothing told the caller that the update had been made."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from schema.one_mutation import OneMutation
from schema.root import schema
from tests.conftest import global_id
from tests.writes.conftest import new_input

GRAPHQL = schema._schema
CREATE = "createClinicalActivity(input: $input) { activity { ctmsId } userErrors { code } }"


@pytest.mark.parametrize("document", [
    "mutation { a: deleteClinicalActivity(id: \"x\") { deletedId } "
    "b: deleteClinicalActivity(id: \"y\") { deletedId } }",
    "mutation { deleteClinicalActivity(id: \"x\") { deletedId } retrySync(activityId: \"x\") { userErrors { code } } }",
    "mutation { ... on Mutation { deleteClinicalActivity(id: \"x\") { deletedId } } ...M } "
    "fragment M on Mutation { retrySync(activityId: \"x\") { userErrors { code } } }",
], ids=["aliases", "two-fields", "fragments"])
def test_several_mutations_are_refused(document: str) -> None:
    [error] = validate(GRAPHQL, parse(document), [OneMutation])
    assert "An operation runs one mutation, this one has 2" in error.message


@pytest.mark.parametrize("document", [
    "mutation { __typename deleteClinicalActivity(id: \"x\") { deletedId } }",
    "mutation { ...M ...M } fragment M on Mutation { deleteClinicalActivity(id: \"x\") { deletedId } }",
    "{ a: viewer { name } b: viewer { email } }",
], ids=["typename", "one-fragment-twice", "query"])
def test_one_mutation_or_a_query_passes(document: str) -> None:
    assert validate(GRAPHQL, parse(document), [OneMutation]) == []


def test_refused_before_anything_is_written(stack, ctms_api) -> None:  # noqa: ANN001
    subject = "one of two mutations"
    body = stack.gql(f"mutation($input: CreateClinicalActivityInput!, $log: LogCallInput!) {{ {CREATE} "
                     "logCall(input: $log) { callId userErrors { code } } }",
                     {"input": new_input(subject=subject),
                      "log": {"connectionId": global_id("Connection", "us"), "personId": new_input()["personId"],
                              "date": "2026-01-20", "channel": "PHONE", "completed": True}})
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE subject__v = '{subject}'") == []
