"""Subfield collections kept across requests: reused only where variables cannot change them, and every answer the
same as when collected afresh."""

from __future__ import annotations

import pytest
import strawberry
from graphql import parse
from graphql.execution import collect_fields as graphql_collect
from strawberry.extensions import ParserCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.collected import KeptCollections, directive_free
from schema.errors import GatewaySchema


@strawberry.type
class Tag:
    label: str
    weight: int


@strawberry.type
class Query:
    @strawberry.field
    def tags(self) -> list[Tag]:
        return [Tag(label="a", weight=1), Tag(label="b", weight=2)]


PLAIN = "query Q { tags { label ...W } } fragment W on Tag { weight }"
INCLUDED = "query Q($w: Boolean!) { tags { label weight @include(if: $w) } }"
TWO = "query L { tags { label } } query W { tags { weight } }"


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many subfield collections graphql-core makes (one per call)."""
    made: list[int] = []
    real = graphql_collect.collect_subfields

    def counted(*args: object, **kwargs: object) -> object:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("graphql.execution.executor.collect_subfields", counted)
    monkeypatch.setattr(KeptCollections, "_operations", {})
    return made


def _schemas() -> tuple[GatewaySchema, GatewaySchema]:
    kept = GatewaySchema(query=Query, extensions=[lambda: ParserCache(maxsize=16)])
    fresh = GatewaySchema(query=Query, extensions=[lambda: ParserCache(maxsize=16)],
                          execution_context_class=StrawberryGraphQLCoreExecutionContext)
    return kept, fresh


def test_a_document_without_directives_is_collected_once_in_the_process(collections: list[int]) -> None:
    kept, fresh = _schemas()
    assert issubclass(kept.execution_context_class, KeptCollections)
    answers = [kept.execute_sync(PLAIN) for _ in range(3)]
    assert len(collections) == 1  # `tags`' subfields, on the first request only
    assert all(a.data == fresh.execute_sync(PLAIN).data == {"tags": [{"label": "a", "weight": 1},
                                                                      {"label": "b", "weight": 2}]}
               for a in answers)


def test_a_directive_makes_every_request_collect_with_its_own_variables(collections: list[int]) -> None:
    kept, _ = _schemas()
    with_weight = kept.execute_sync(INCLUDED, variable_values={"w": True})
    without = kept.execute_sync(INCLUDED, variable_values={"w": False})
    assert with_weight.data == {"tags": [{"label": "a", "weight": 1}, {"label": "b", "weight": 2}]}
    assert without.data == {"tags": [{"label": "a"}, {"label": "b"}]}
    assert len(collections) == 2


def test_each_operation_of_a_document_collects_its_own_fields(collections: list[int]) -> None:
    kept, _ = _schemas()
    for _ in range(2):
        assert kept.execute_sync(TWO, operation_name="L").data == {"tags": [{"label": "a"}, {"label": "b"}]}
        assert kept.execute_sync(TWO, operation_name="W").data == {"tags": [{"weight": 1}, {"weight": 2}]}
    assert len(collections) == 2


def test_at_most_kept_operations_are_remembered(collections: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("schema.collected.KEPT", 2)
    kept, _ = _schemas()
    for n in range(5):
        kept.execute_sync(f"query Q{n} {{ tags {{ label }} }}")
    assert len(KeptCollections._operations) == 2 and len(collections) == 5


@pytest.mark.parametrize(("document", "free"), [
    ("{ a { b } }", True),
    ("query Q($x: Int) { a(x: $x) { ...F ... on T { c } } } fragment F on T { d }", True),
    ("{ a { b @skip(if: true) } }", False),
    ("{ a { ... on T @include(if: false) { c } } }", False),
    ("{ a { ...F } } fragment F on T { d { e @include(if: true) } }", False),
    ("{ a { ...F @defer } } fragment F on T { d }", False),
])
def test_directives_anywhere_in_a_selection_are_found(document: str, free: bool) -> None:
    assert all(directive_free(d) for d in parse(document).definitions) is free
