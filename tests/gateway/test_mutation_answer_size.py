"""A mutation's answer is never replaced by the size cap's RESPONSE_TOO_LARGE: its writes are done, and a caller told
only "ask for fewer fields" could not tell what was written (and might write it again). Found by the fuzz tests
(tests/fuzz/): an update answered RESPONSE_TOO_LARGE while the CTMS and both orgs had changed. Queries stay capped."""

from __future__ import annotations

import pytest

from tests.conftest import global_id
from tests.writes.conftest import new_input

CAP = 400
CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { ctmsId person { timeline(first: 40) { edges { node { id date subject } } } } }
  userErrors { code } } }"""
TIMELINE = """query($id: ID!) { person(id: $id) { timeline(first: 40) { edges { node { id date subject } } } } }"""


@pytest.fixture(scope="module")
def capped(stack):  # noqa: ANN001, ANN201
    return stack.start_gateway(worker=False, max_response_bytes=CAP)


def test_the_answer_of_a_mutation_that_wrote_goes_out_whatever_its_size(capped, ctms_api) -> None:  # noqa: ANN001
    r = capped.post(CREATE, {"input": new_input(subject="a big answer")})
    assert r.status_code == 200 and len(r.content) > CAP
    body = r.json()
    assert "errors" not in body, body
    payload = body["data"]["createClinicalActivity"]
    assert payload["userErrors"] == [] and payload["activity"]["person"]["timeline"]["edges"]
    ctms_id = payload["activity"]["ctmsId"]
    assert ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE id = '{ctms_id}'") == [{"id": ctms_id}]


def test_a_query_as_large_is_still_replaced(capped) -> None:  # noqa: ANN001
    body = capped.gql(TIMELINE, {"id": global_id("Person", "0PE000000000003")})
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["RESPONSE_TOO_LARGE"]
