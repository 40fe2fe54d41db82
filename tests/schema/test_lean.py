"""Methods called without strawberry's wrapper: plain and async ones, with scalar arguments or not, answer, fail and
propagate nulls as through it; an argument strawberry converts (an input, an enum, a global id) still goes through
it when given; a field with an extension (a permission) and a subscription keep strawberry's path."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import FieldExtension
from strawberry.relay import GlobalID
from strawberry.types import Info

from schema.errors import GatewaySchema
from schema.lean import lean_resolvers
from schema.root import schema as gateway_schema

CALLS: list[str] = []


@strawberry.input
class Range:
    low: int = 0
    high_bound: int = 10


@strawberry.enum
class Sign(enum.Enum):
    PLUS = "plus"
    MINUS = "minus"


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

    @strawberry.field
    async def later_broken(self, info: Info) -> int:
        raise ValueError(f"{info.field_name} of {self.n} is broken")

    @strawberry.field
    async def scaled(self, info: Info, by_factor: int = 2, label: strawberry.ID | None = None,
                     within: Range | None = None, sign: Sign = Sign.PLUS) -> str:
        n = self.n * by_factor * (1 if sign is Sign.PLUS else -1)
        fits = within is None or within.low <= n <= within.high_bound
        return f"{info.field_name}:{n}:{label!r}:{fits}:{type(within).__name__}"

    @strawberry.field
    async def ranged(self, within: Range | None = None, sign: Sign | None = None) -> str:
        return f"{self.n}:{within}:{sign}"

    @strawberry.field
    def of(self, ref: GlobalID | None = None) -> str:
        return f"{type(ref).__name__}:{ref.node_id if ref else None}"


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
    '{ items { scaled scaled2: scaled(byFactor: 3, label: "x") scaled3: scaled(within: {low: 3, highBound: 5}) '
    'scaled4: scaled(sign: MINUS) of of2: of(ref: "SXRlbTox") } }',
    "{ items { n laterBroken } }",
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
    assert answers[1][0] == {"items": [
        {"scaled": "scaled:2:None:True:NoneType", "scaled2": "scaled:3:'x':True:NoneType",
         "scaled3": "scaled:2:None:False:Range", "scaled4": "scaled:-2:None:True:NoneType", "of": "NoneType:None",
         "of2": "GlobalID:1"},
        {"scaled": "scaled:4:None:True:NoneType", "scaled2": "scaled:6:'x':True:NoneType",
         "scaled3": "scaled:4:None:True:Range", "scaled4": "scaled:-4:None:True:NoneType", "of": "NoneType:None",
         "of2": "GlobalID:1"}]}
    assert answers[2] == (None, [("laterBroken of 1 is broken", ["items", 0, "laterBroken"])])
    assert answers[4] == ({"first": None}, [("item 7 is broken", ["first", "broken"])])
    assert answers[5][0] is None and answers[5][1][0] == ("item 1 is broken", ["items", 0, "broken"])


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, upto: int = 2) -> AsyncGenerator[int, None]:
        for n in range(upto):
            yield n


def test_methods_without_extensions_go_lean_and_extensions_still_run() -> None:
    lean = GatewaySchema(query=Query, subscription=Subscription)
    assert sorted(lean_resolvers(lean._schema, lean.schema_converter)) == [
        "Item.broken", "Item.double", "Item.later", "Item.laterBroken", "Item.maybe", "Item.of", "Item.ranged",
        "Item.scaled",
        "Item.times", "Item.where", "Query.first", "Query.items"]
    CALLS.clear()
    lean.execute_sync("{ items { noted } }")
    assert CALLS == ["noted", "noted"]


def test_only_a_value_strawberry_converts_takes_its_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    import strawberry.schema.schema_converter as converter

    converted: list[list[str]] = []
    convert = converter.convert_arguments

    def noted(value: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        converted.append(sorted(value))
        return convert(value, *args, **kwargs)
    monkeypatch.setattr(converter, "convert_arguments", noted)
    lean, plain = GatewaySchema(query=Query), strawberry.Schema(query=Query)
    queries = ["{ first { ranged } }", "{ first { ranged(within: null, sign: null) } }",
               "{ first { ranged(sign: MINUS) } }", "{ first { ranged(within: {low: 1}) } }"]
    answers = [asyncio.run(lean.execute(q)).data for q in queries]
    assert converted == [["sign", "within"], ["sign", "within"]]  # the last two: an enum, an input
    assert answers == [asyncio.run(plain.execute(q)).data for q in queries] == [
        {"first": {"ranged": "7:None:None"}}, {"first": {"ranged": "7:None:None"}},
        {"first": {"ranged": "7:None:Sign.MINUS"}}, {"first": {"ranged": "7:Range(low=1, high_bound=10):None"}}]


def test_a_subscription_keeps_its_events() -> None:
    lean = GatewaySchema(query=Query, subscription=Subscription)

    async def events() -> list[Any]:
        stream = await lean.subscribe("subscription { ticks(upto: 3) }")
        return [result.data async for result in stream]  # type: ignore[union-attr]
    assert asyncio.run(events()) == [{"ticks": 0}, {"ticks": 1}, {"ticks": 2}]


def test_programs_never_call_an_async_or_argument_taking_method() -> None:
    lean = GatewaySchema(query=Query)
    fields = lean._schema.type_map["Item"].fields  # type: ignore[union-attr]
    assert [name for name in ("double", "where", "later", "times", "scaled")
            if hasattr(fields[name].resolve, "needs_info")] == ["double", "where"]


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
