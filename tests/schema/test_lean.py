"""Plain methods called without strawberry's wrapper: they answer, fail and propagate nulls as through it, and a
field with arguments, an extension (a permission) or an async resolver keeps strawberry's path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from schema.errors import GatewaySchema
from schema.lean import lean_resolvers
from schema.root import schema as gateway_schema

CALLS: list[str] = []


class Noted(FieldExtension):
    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        CALLS.append(info.field_name)
        return next_(source, info, **kwargs)


@strawberry.type
class Item:
    n: int

    @strawberry.field
    def double(self) -> int:
        return self.n * 2

    @strawberry.field
    def where(self, info: Info) -> str:
        return f"{info.path.typename}.{info.field_name} of {info.context['who']}"

    @strawberry.field
    def broken(self) -> int:
        raise ValueError(f"item {self.n} is broken")

    @strawberry.field
    def maybe(self) -> str | None:
        raise ValueError("no maybe")

    @strawberry.field
    def times(self, k: int = 3) -> int:
        return self.n * k

    @strawberry.field(extensions=[Noted()])
    def noted(self) -> int:
        return self.n

    @strawberry.field
    async def later(self) -> int:
        return self.n + 100


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(n=1), Item(n=2)]

    @strawberry.field
    def first(self) -> Item | None:
        return Item(n=7)


QUERIES = [
    "{ items { n double where times(k: 5) noted later } }",
    "{ items { n maybe } }",
    "{ first { n broken } }",  # a non-null field fails: `first` becomes null
    "{ items { double broken } }",  # a non-null item fails: the list, `items`, then all data become null
]


def _answers(schema: strawberry.Schema) -> list[tuple[object, list[tuple[str, list | None]]]]:
    out = []
    for query in QUERIES:
        result = asyncio.run(schema.execute(query, context_value={"who": "ada"}))
        out.append((result.data, sorted((e.message, e.path) for e in result.errors or [])))
    return out


def test_lean_methods_answer_fail_and_propagate_as_through_strawberry() -> None:
    lean = GatewaySchema(query=Query)
    plain = strawberry.Schema(query=Query)
    answers = _answers(lean)
    assert answers == _answers(plain)
    assert answers[0][0] == {"items": [
        {"n": 1, "double": 2, "where": "Item.where of ada", "times": 5, "noted": 1, "later": 101},
        {"n": 2, "double": 4, "where": "Item.where of ada", "times": 10, "noted": 2, "later": 102}]}
    assert answers[2] == ({"first": None}, [("item 7 is broken", ["first", "broken"])])
    assert answers[3][0] is None and answers[3][1][0] == ("item 1 is broken", ["items", 0, "broken"])


def test_only_plain_methods_go_lean_and_extensions_still_run() -> None:
    lean = GatewaySchema(query=Query)
    assert sorted(lean_resolvers(lean._schema, lean.schema_converter)) == [
        "Item.broken", "Item.double", "Item.maybe", "Item.where", "Query.first", "Query.items"]
    CALLS.clear()
    lean.execute_sync("{ items { noted } }")
    assert CALLS == ["noted", "noted"]


def test_no_guarded_field_of_the_gateway_goes_lean() -> None:
    from strawberry.schema.schema_converter import GraphQLCoreConverter

    guarded = lean = 0
    for type_ in gateway_schema._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for field in type_.fields.values():
            definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            is_lean = getattr(field.resolve, "__module__", None) == "schema.lean"
            lean += is_lean
            if definition is not None and getattr(definition, "extensions", None):
                guarded += 1
                assert not is_lean, f"{type_.name}.{field.name}"
    assert guarded >= 20 and lean >= 10
    assert gateway_schema._schema.type_map["Person"].fields["firstName"].resolve.__module__ == "schema.lean"
