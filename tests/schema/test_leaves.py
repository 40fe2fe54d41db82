"""Plain fields (leaves and objects) completed directly answer exactly as graphql-core's general path does, errors
included."""

from __future__ import annotations

import asyncio
import enum
from datetime import date

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from schema.errors import GatewaySchema
from schema.leaves import LeafExecution, plain_field


@strawberry.enum
class Color(enum.Enum):
    RED = "red"


@strawberry.interface
class Named:
    label: str


@strawberry.type
class Tag(Named):
    weight: int  # None below in one tag: the schema says it cannot

    @strawberry.field
    async def later(self) -> str:
        if self.label == "fails":
            raise ValueError("no later for this one")
        return self.label + "!"


@strawberry.type
class Box:
    tag: Tag | None  # holds a string in one box: Tag's is_type_of refuses it
    must: Tag


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
    def boxes(self) -> list[Box]:
        return [Box(tag=Tag(label="a", weight=1), must=Tag(label="m", weight=2)),
                Box(tag=None, must=Tag(label="fails", weight=3)),
                Box(tag=Tag(label="w", weight=None), must=Tag(label="n", weight=4)),  # type: ignore[arg-type]
                Box(tag="not a tag", must=Tag(label="p", weight=5))]  # type: ignore[arg-type]

    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a", note=None, color=Color.RED, day=date(2026, 1, 2), broken=None, odd="x"),  # type: ignore[arg-type]
                Item(name="b", note="n", color=Color.RED, day=date(2026, 1, 3), broken="ok", odd=1)]


QUERY = "{ items { name note color day shout } }"
BROKEN = "{ items { name broken } }"
ODD = "{ items { name odd } }"
BOXES = "{ boxes { tag { label weight } must { label } } }"
LATER = "{ boxes { tag { label later } must { later } } }"
WRONG_TYPE = "{ boxes { tag { label } } }"


def _schemas() -> tuple[GatewaySchema, GatewaySchema]:
    return (GatewaySchema(query=Query),
            GatewaySchema(query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext))


@pytest.mark.parametrize("query", [QUERY, BROKEN, ODD, BOXES, WRONG_TYPE])
def test_same_answer_as_the_general_path(query: str) -> None:
    fast, general = _schemas()
    assert fast.execution_context_class is LeafExecution
    got, expected = fast.execute_sync(query), general.execute_sync(query)
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors or []] == [(e.message, e.path) for e in expected.errors or []]


@pytest.mark.parametrize("query", [BOXES, LATER])
def test_same_answer_as_the_general_path_when_fields_are_awaited(query: str) -> None:
    fast, general = _schemas()
    got, expected = asyncio.run(fast.execute(query)), asyncio.run(general.execute(query))
    assert got.data == expected.data
    assert sorted((e.message, e.path) for e in got.errors or []) == \
        sorted((e.message, e.path) for e in expected.errors or [])


def test_objects_values_and_errors() -> None:
    fast, _ = _schemas()
    boxes = fast.execute_sync(BOXES)
    assert boxes.data == {"boxes": [{"tag": {"label": "a", "weight": 1}, "must": {"label": "m"}},
                                    {"tag": None, "must": {"label": "fails"}},
                                    {"tag": None, "must": {"label": "n"}},  # its weight is null: the tag is
                                    {"tag": None, "must": {"label": "p"}}]}  # not a Tag at all
    assert [e.path for e in boxes.errors] == [["boxes", 2, "tag", "weight"], ["boxes", 3, "tag"]]
    later = asyncio.run(fast.execute(LATER))
    # A non-null field failed inside a non-null object of a non-null list item: null up to the root.
    assert later.data is None and ["boxes", 1, "must", "later"] in [e.path for e in later.errors]
    awaited = asyncio.run(fast.execute("{ boxes { tag { later } } }"))
    assert awaited.data == {"boxes": [{"tag": {"later": "a!"}}, {"tag": None}, {"tag": {"later": "w!"}},
                                      {"tag": None}]}
    assert [e.path for e in awaited.errors] == [["boxes", 3, "tag"]]


def test_plain_leaves_skip_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, general = _schemas()
    infos: list[str] = []
    build = StrawberryGraphQLCoreExecutionContext.build_resolve_info

    def counted(self, field_def, field_nodes, parent_type, path):  # noqa: ANN001, ANN202
        infos.append(field_nodes[0].name.value)
        return build(self, field_def, field_nodes, parent_type, path)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "build_resolve_info", counted)
    assert fast.execute_sync(QUERY).data == general.execute_sync(QUERY).data
    fast_infos, general_infos = infos[:1], infos[1:]
    # Only the list's own: its items are completed by a program (schema/compiled.py), and `shout`, a lean method
    # that takes no info, is called without one.
    assert fast_infos == ["items"]
    assert len(general_infos) == 1 + 2 * 5
    infos.clear()
    assert fast.execute_sync("{ boxes { must { label } } }").data == \
        general.execute_sync("{ boxes { must { label } } }").data
    # Tag implements an interface: strawberry's is_type_of compares classes, asked without a resolve info.
    assert infos[:2] == ["boxes", "boxes"] and len(infos) == 1 + 1 + 4 * 2


def test_the_plain_leaves_of_a_kept_field_set_are_read_without_a_field_execution(executed_fields: list[str]) -> None:
    fast, _ = _schemas()
    executed = executed_fields
    assert fast.execute_sync(QUERY).data == {"items": [
        {"name": "a", "note": None, "color": "RED", "day": "2026-01-02", "shout": "A"},
        {"name": "b", "note": "n", "color": "RED", "day": "2026-01-03", "shout": "B"}]}
    assert executed == ["items"]  # the items by their program, `shout` included (schema/compiled.py)
    executed.clear()
    # The null in a non-null leaf: the first item's program gives up, the general path executes the field and
    # reports it as before; the second item's program completes it.
    assert fast.execute_sync(BROKEN).errors
    assert executed == ["items", "broken"]


@strawberry.type
class Picky:
    n: int

    @classmethod
    def is_type_of(cls, obj: object, info: Info) -> bool:
        return isinstance(obj, Picky) and info.field_name == "picky" and obj.n > 0


@strawberry.type
class Holder:
    picky: Picky | None


@strawberry.type
class PickyQuery:
    @strawberry.field
    def holders(self) -> list[Holder]:
        return [Holder(picky=Picky(n=1)), Holder(picky=Picky(n=0))]


def test_an_is_type_of_of_its_own_is_asked_with_a_resolve_info() -> None:
    got = GatewaySchema(query=PickyQuery).execute_sync("{ holders { picky { n } } }")
    assert got.data == {"holders": [{"picky": {"n": 1}}, {"picky": None}]}
    assert [e.path for e in got.errors] == [["holders", 1, "picky"]]


class _OtherColor(enum.Enum):
    RED = "red"


def test_an_enum_is_named_as_strawberry_names_it() -> None:
    fast, _ = _schemas()
    color = fast._schema.get_type("Color")
    serialize = plain_field(fast._schema, fast._schema.get_type("Item"), "color").serialize
    assert serialize(Color.RED) == color.serialize(Color.RED) == "RED"
    for other in ("red", _OtherColor.RED, "blue"):  # not a member: strawberry's own answer, or its refusal
        try:
            expected = color.serialize(other)
        except Exception as exc:  # noqa: BLE001 - compared below
            with pytest.raises(type(exc)):
                serialize(other)
        else:
            assert serialize(other) == expected


def test_only_plain_fields_take_the_short_path() -> None:
    fast, _ = _schemas()
    item, box = fast._schema.get_type("Item"), fast._schema.get_type("Box")
    plain = plain_field(fast._schema, item, "name")
    assert (plain.attribute, plain.type, plain.nullable) == ("name", fast._schema.get_type("String"), False)
    assert plain_field(fast._schema, item, "note").nullable
    assert plain_field(fast._schema, box, "tag").type is fast._schema.get_type("Tag")
    assert plain_field(fast._schema, item, "shout") is None  # a resolver
    assert plain_field(fast._schema, fast._schema.query_type, "items") is None
