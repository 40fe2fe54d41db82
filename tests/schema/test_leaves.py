"""Plain leaf fields completed directly answer exactly as graphql-core's general path does, errors included."""

from __future__ import annotations

import enum
from datetime import date

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.errors import GatewaySchema
from schema.leaves import LeafExecution, plain_leaf


@strawberry.enum
class Color(enum.Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    note: str | None
    color: Color
    day: date
    broken: str  # holds None below: the schema says it cannot
    odd: int  # holds a value Int refuses

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a", note=None, color=Color.RED, day=date(2026, 1, 2), broken=None, odd="x"),  # type: ignore[arg-type]
                Item(name="b", note="n", color=Color.RED, day=date(2026, 1, 3), broken="ok", odd=1)]


QUERY = "{ items { name note color day shout } }"
BROKEN = "{ items { name broken } }"
ODD = "{ items { name odd } }"


def _schemas() -> tuple[GatewaySchema, GatewaySchema]:
    return (GatewaySchema(query=Query),
            GatewaySchema(query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext))


@pytest.mark.parametrize("query", [QUERY, BROKEN, ODD])
def test_same_answer_as_the_general_path(query: str) -> None:
    fast, general = _schemas()
    assert fast.execution_context_class is LeafExecution
    got, expected = fast.execute_sync(query), general.execute_sync(query)
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors or []] == [(e.message, e.path) for e in expected.errors or []]


def test_values_and_errors() -> None:
    fast, _ = _schemas()
    assert fast.execute_sync(QUERY).data == {"items": [
        {"name": "a", "note": None, "color": "RED", "day": "2026-01-02", "shout": "A"},
        {"name": "b", "note": "n", "color": "RED", "day": "2026-01-03", "shout": "B"}]}
    broken = fast.execute_sync(BROKEN)
    assert broken.data is None and broken.errors[0].path == ["items", 0, "broken"]
    odd = fast.execute_sync(ODD)
    assert odd.data is None and odd.errors[0].path == ["items", 0, "odd"]


def test_plain_leaves_skip_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, general = _schemas()
    infos: list[str] = []
    build = StrawberryGraphQLCoreExecutionContext.build_resolve_info

    def counted(self, field_def, field_nodes, parent_type, path):  # noqa: ANN001, ANN202
        infos.append(field_nodes[0].name.value)
        return build(self, field_def, field_nodes, parent_type, path)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "build_resolve_info", counted)
    assert fast.execute_sync(QUERY).data == general.execute_sync(QUERY).data
    fast_infos, general_infos = infos[:3], infos[3:]
    assert fast_infos == ["items", "shout", "shout"]  # only the fields that are not plain leaves
    assert len(general_infos) == 1 + 2 * 5


def test_only_plain_leaves_take_the_short_path() -> None:
    fast, _ = _schemas()
    item = fast._schema.get_type("Item")
    assert plain_leaf(fast._schema, item, "name") == ("name", fast._schema.get_type("String"), False)
    assert plain_leaf(fast._schema, item, "note").nullable
    assert plain_leaf(fast._schema, item, "shout") is None  # a resolver
    assert plain_leaf(fast._schema, fast._schema.query_type, "items") is None
