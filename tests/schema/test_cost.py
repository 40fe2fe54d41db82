"""The cost of an operation: fields, lists times their `first`, fragments, aliases, variables, and the budget."""

from __future__ import annotations

import asyncio

import pytest
from graphql import parse

from schema.cost import LIST_ESTIMATE, NULL_PAGE, _CostCache, cost_inputs, operation_cost
from schema.root import schema

GRAPHQL = schema._schema

BOMB_INNER = ("timeline(first: 100) { edges { node { id person { "
              "timeline(first: 100) { edges { node { id } } } } } } }")
BOMB = '{ person(id: "x") { ' + " ".join(f"a{i}: {BOMB_INNER}" for i in range(30)) + " } }"


def cost(query: str, variables: dict | None = None, operation: str | None = None) -> int | None:
    return operation_cost(GRAPHQL, parse(query), operation, variables)


@pytest.mark.parametrize(("query", "expected"), [
    ("{ viewer { name email } }", 3),
    ("{ viewer { name name } }", 2),  # one response key: execution merges them
    ("{ viewer { name email @skip(if: true) } }", 2),
    ("{ viewer { name email @include(if: false) } }", 2),
    ("{ people(first: 3) { edges { node { firstName lastName } } } }", 1 + 1 + 3 * 3),
    ("{ people(first: 3) { edges { cursor } pageInfo { hasNextPage } } }", 1 + (1 + 3) + 2),
    ("{ people { edges { cursor } } }", 1 + 1 + 20),  # the argument's default
    ("{ people(first: 1000) { edges { cursor } } }", 1 + 1 + 100),  # over 100 is refused by the resolver
    ("{ a: people(first: 2) { edges { cursor } } b: people(first: 2) { edges { cursor } } }", 2 * (1 + 1 + 2)),
    ('{ person(id: "x") { accounts { accountId name } } }', 1 + 1 + LIST_ESTIMATE * 2),
    ("{ people(first: 2) { edges { node { timeline(first: 3) { edges { node { id } } } } } } }",
     1 + 1 + 2 * (1 + 1 + 1 + 3 * (1 + 1))),
    # An abstract type costs its costliest member.
    ('{ node(id: "x") { id ... on Person { firstName lastName } ... on Study { name } } }', 1 + 3),
    ('{ node(id: "x") { __typename ...P } } fragment P on Person { firstName lastName }', 1 + 3),
    ("{ viewer { ...V ...V } } fragment V on Viewer { name }", 2),
    ("{ people(first: 2) { ...C } } fragment C on PersonConnection { edges { node { firstName } } }",
     1 + 1 + 2 * 2),
    # Introspection walks the fixed schema: its lists are not multiplied.
    ("{ __schema { types { name fields { name } } } }", 1 + 1 + 1 + 2),
    ('mutation { deleteClinicalActivity(id: "x") { deletedId userErrors { message } } }',
     1 + 1 + 1 + LIST_ESTIMATE * 1),
])
def test_known_costs(query: str, expected: int) -> None:
    assert cost(query) == expected


def test_variables_count() -> None:
    query = "query($n: Int, $s: Boolean = false) { people(first: $n) { edges { cursor @skip(if: $s) } } }"
    assert cost(query, {"n": 5}) == 1 + 1 + 5
    assert cost(query, {"n": 5, "s": True}) == 1 + 1 + 0
    assert cost(query, {}) == 1 + 1 + 20  # unset: the argument's default
    assert cost(query, {"n": None}) == 1 + 1 + NULL_PAGE  # null: the resolver's default, counted as the larger
    assert cost("query($n: Int = 7) { people(first: $n) { edges { cursor } } }") == 1 + 1 + 7


def test_a_remembered_cost_is_the_cost_of_the_same_query_with_the_same_variables() -> None:
    cache = _CostCache(8)
    query = "query($n: Int, $s: Boolean = false) { people(first: $n) { edges { cursor @skip(if: $s) } } }"
    doc = parse(query)
    assert cache.cost(GRAPHQL, query, doc, None, {"n": 5, "s": False}) == 1 + 1 + 5
    assert cache.cost(GRAPHQL, query, doc, None, {"s": False, "n": 5}) == 1 + 1 + 5  # the same, in another order
    assert len(cache.entries) == 1
    assert cache.cost(GRAPHQL, query, doc, None, {"n": 50}) == 1 + 1 + 50
    assert cache.cost(GRAPHQL, query, doc, None, {"n": 5, "s": True}) == 1 + 1
    assert cache.cost(GRAPHQL, query, doc, None, {"n": 2**70}) is None  # no Int (beyond what orjson writes, too)
    assert len(cache.entries) == 4


def test_variables_that_cannot_change_the_cost_share_one_remembered_cost() -> None:
    cache = _CostCache(8)
    query = "query($id: ID!, $n: Int) { person(id: $id) { timeline(first: $n) { edges { cursor } } } }"
    doc = parse(query)
    for i in range(5):  # one timeline query for many people: counted once
        assert cache.cost(GRAPHQL, query, doc, None, {"id": f"p{i}", "n": 3}) == 1 + 1 + 1 + 3
    assert len(cache.entries) == 1
    assert cache.cost(GRAPHQL, query, doc, None, {"id": "p0", "n": 100}) == 1 + 1 + 1 + 100  # `first` counts
    assert cache.cost(GRAPHQL, query, doc, None, {"id": "p0"}) == 1 + 1 + 1 + 20
    assert cache.cost(GRAPHQL, query, doc, None, {"id": "p0", "n": None}) == 1 + 1 + 1 + NULL_PAGE
    assert len(cache.entries) == 4


def test_a_page_counts_its_first_whatever_the_other_arguments_hold() -> None:
    query = "query($f: TimelineFilter) { person(id: \"x\") { timeline(first: 3, filter: $f) { edges { cursor } } } }"
    assert cost(query, {"f": {"channels": ["PHONE"]}}) == cost(query, {}) == 1 + 1 + 1 + 3


def test_the_variables_a_count_reads_are_found_through_fragments_directives_and_lists() -> None:
    assert cost_inputs(parse(
        "query($id: ID!, $n: Int, $s: Boolean!, $f: TimelineFilter) { person(id: $id) { ...T } }"
        " fragment T on Person { timeline(first: $n, filter: $f) { edges { cursor @skip(if: $s) } } }")) == {
        "n", "s"}
    assert cost_inputs(parse("query($a: _Any!, $b: _Any!) { _entities(representations: [$a, {x: $b}]) "
                             "{ __typename } }")) == {"a", "b"}
    assert cost_inputs(parse("mutation($input: CreateClinicalActivityInput!) { createClinicalActivity("
                             "input: $input) { activity { id } } }")) == frozenset()


def test_nested_aliased_timelines_multiply() -> None:
    inner = 1 + 1 + 100 * (1 + 1)  # timeline(first: 100) { edges { node { id } } }
    outer = 1 + 1 + 100 * (1 + 1 + (1 + inner))  # ... node { id person { <inner> } }
    assert cost(BOMB) == 1 + 30 * outer
    assert cost(BOMB) > 600_000


def test_operations_that_cannot_run_have_no_cost() -> None:
    two = "query A { viewer { name } } query B { viewer { email } }"
    assert cost(two, operation="B") == 2
    assert cost(two) is None
    assert cost(two, operation="C") is None
    assert cost("query($n: Int!) { people(first: $n) { edges { cursor } } }", {"n": "many"}) is None


def test_the_budget_refuses_before_anything_runs() -> None:
    # No request context: were `viewer` to run, it would fail with an internal error instead.
    result = asyncio.run(schema.execute("{ viewer { name email } }", context_value={"max_cost": 2}))
    assert result.data is None
    [error] = result.errors or []
    assert error.extensions == {"code": "QUERY_TOO_COSTLY", "cost": 3, "limit": 2}
    assert "3" in error.message and "2" in error.message
    result = asyncio.run(schema.execute("{ __typename }", context_value={"max_cost": 2}))
    assert result.errors is None and result.data == {"__typename": "Query"}
