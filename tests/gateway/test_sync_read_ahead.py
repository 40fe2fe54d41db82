"""A timeline reads its page's sync states ahead, in one store query: they are what each item reads alone."""

from __future__ import annotations

from tests.writes.conftest import CREATE, MATCHED, new_input

TIMELINE = """query($id: ID!) { person(id: $id) { timeline(first: 50) { edges { node { id __typename
  sync { connection { name } state remoteId attempts lastError updatedAt } } } } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Activity { id __typename
  sync { connection { name } state remoteId attempts lastError updatedAt } } } }"""


def test_the_page_s_sync_states_are_each_item_s(stack, gid) -> None:  # noqa: ANN001
    created = stack.gql(CREATE, {"input": new_input()})["data"]["createClinicalActivity"]
    assert not created["userErrors"], created
    body = stack.gql(TIMELINE, {"id": gid("Person", MATCHED)})
    assert "errors" not in body, body
    items = [e["node"] for e in body["data"]["person"]["timeline"]["edges"]]
    assert {i["__typename"] for i in items} == {"ClinicalActivity", "MedicalActivity"}
    assert any(s["state"] == "SYNCED" for i in items for s in i["sync"])  # the one just written, at least
    for item in items:
        alone = stack.gql(NODE, {"id": item["id"]})
        assert alone == {"data": {"node": item}}, (alone, item)
