"""List items completed by programs answer exactly as graphql-core's general path does: values, errors and their
null propagation, interface values, lean methods; anything unusual falls back, and guarded fields never run there."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import strawberry
from strawberry.extensions import FieldExtension, ParserCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from schema.collected import KeptCollections
from schema.compiled import GIVE_UPS
from schema.errors import GatewaySchema
from schema.lean import without_info

GUARDED: list[str] = []
LATER: list[str] = []


class Guard(FieldExtension):
    """Refuses the field for shapes named "hidden", as a permission would; notes every call."""

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        GUARDED.append(source.name)
        if source.name == "hidden":
            raise PermissionError("not for you")
        return next_(source, info, **kwargs)


async def _later(n: int) -> int:
    return n + 1


@strawberry.interface
class Shape:
    name: str


@strawberry.type
class Part:
    label: str  # None in one part: the schema says it cannot
    count: int | None  # "x" in one part: Int refuses it


@strawberry.type
class Square(Shape):
    side: int
    parts: list[Part] | None

    @strawberry.field
    def area(self) -> int:
        return self.side * self.side

    @strawberry.field
    def where(self, info: Info) -> str:
        return "/".join(str(k) for k in info.path.as_list())

    @strawberry.field
    def later(self) -> int:  # a plain method handing back an awaitable
        LATER.append(self.name)
        return _later(self.side)  # type: ignore[return-value]

    @strawberry.field(extensions=[Guard()])
    def secret(self) -> str | None:
        return f"secret of {self.name}"


@strawberry.type
class Circle(Shape):
    radius: float

    @strawberry.field
    def fragile(self) -> int:
        if self.radius < 0:
            raise ValueError(f"{self.name} has a negative radius")
        return int(self.radius)


@strawberry.type
class Tag:
    text: str  # an int in one tag: String serializes it as text (a str needs no call)
    ident: strawberry.ID  # an int in one tag too
    note: str | None


class Loose:
    """Not a strawberry type: counted as a Square only through strawberry.cast."""

    def __init__(self, name: str, side: int) -> None:
        self.name, self.side, self.parts = name, side, []


@strawberry.interface
class Marked:
    name: str

    @classmethod
    @without_info
    def resolve_type(cls, obj: object, info: object, abstract_type: object) -> str:
        return "Dot"


@strawberry.type
class Dot(Marked):
    size: int


@strawberry.type
class Holder:
    dot: Marked


@strawberry.type
class Slot:
    shape: Shape
    maybe: Shape | None


def _parts(*labels: str | None) -> list[Part]:
    return [Part(label=label, count=i) for i, label in enumerate(labels)]  # type: ignore[arg-type]


SHAPES: list[Shape] = [
    Square(name="a", side=2, parts=_parts("p", "q")),
    Circle(name="b", radius=1.5),
    Square(name="hidden", side=3, parts=_parts("r")),
    Circle(name="c", radius=-1.0),
    Square(name="d", side=1, parts=[Part(label="s", count="x")]),  # type: ignore[arg-type]
    Square(name="e", side=4, parts=_parts("t", None)),
]


@strawberry.type
class Board:
    title: str
    shapes: list[Shape]

    @strawberry.field
    def headline(self) -> str:
        return f"{self.title}: {len(self.shapes)} shapes"

    @strawberry.field
    def fragile_headline(self) -> str:
        raise ValueError(f"no headline for {self.title}")


@strawberry.type
class Query:
    @strawberry.field
    def shapes(self) -> list[Shape]:
        return SHAPES

    @strawberry.field
    def board(self) -> Board | None:
        return Board(title="all", shapes=SHAPES)

    @strawberry.field
    def slots(self) -> list[Slot]:
        return [Slot(shape=SHAPES[0], maybe=None), Slot(shape=SHAPES[1], maybe=SHAPES[2]),
                Slot(shape="not a shape", maybe=SHAPES[3])]  # type: ignore[arg-type]

    @strawberry.field
    def many(self) -> list[Square]:
        return [Square(name=f"m{i}", side=i, parts=[]) for i in range(40)]

    @strawberry.field
    def tags(self) -> list[Tag]:
        return [Tag(text="plain", ident="x1", note=None), Tag(text=7, ident=12, note="n"),  # type: ignore[arg-type]
                Tag(text="t3", ident="x3", note=None)]

    @strawberry.field
    def cast(self) -> list[Shape]:
        return [strawberry.cast(Square, Loose("loose", 3)), SHAPES[1]]

    @strawberry.field
    def dots(self) -> list[Marked]:
        return [Dot(name=f"d{i}", size=i) for i in range(5)]

    @strawberry.field
    def holders(self) -> list[Holder]:
        return [Holder(dot=Dot(name=f"h{i}", size=i)) for i in range(5)]

    @strawberry.field
    def spent(self) -> list[Square]:
        """A square whose parts are an iterator, which only one completion can read."""
        return [Square(name="g", side=5, parts=iter(_parts("u", None)))]  # type: ignore[arg-type]


SQUARE = "... on Square { side area where parts { label count } }"
QUERIES = [
    f"{{ shapes {{ __typename name {SQUARE} ... on Circle {{ radius }} }} }}",
    "{ shapes { name ... on Circle { fragile } } }",
    "{ shapes { name ... on Square { secret } } }",
    "{ slots { shape { name ... on Square { area } } maybe { __typename name } } }",
    "{ a: shapes { n: name ... on Square { s: side } } b: shapes { name } }",
    "{ shapes { name ... on Square { parts { label } } } }",
    "{ spent { name parts { label count } } }",
    "query ($yes: Boolean!) { shapes { name @include(if: $yes) ... on Square { area } } }",
    "{ tags { text ident note } }",
    "{ cast { __typename name ... on Square { side } ... on Circle { radius } } }",
    "{ dots { __typename name ... on Dot { size } } }",
    "{ holders { dot { __typename name ... on Dot { size } } } }",
    "{ board { title headline shapes { name ... on Circle { radius } } } }",
    "{ board { headline fragileHeadline shapes { name } } }",
    "{ board { shapes { name ... on Square { parts { label } } } } }",
]


def _schemas() -> tuple[GatewaySchema, GatewaySchema]:
    """The gateway's execution (with a parser cache, as the gateway has: programs are kept per parsed document) and
    graphql-core's general path."""
    return (GatewaySchema(query=Query, types=[Square, Circle, Dot], extensions=[lambda: ParserCache(maxsize=32)]),
            GatewaySchema(query=Query, types=[Square, Circle, Dot],
                          execution_context_class=StrawberryGraphQLCoreExecutionContext))


def _answer(schema: strawberry.Schema, query: str) -> tuple[object, list[tuple[str, list | None]]]:
    result = asyncio.run(schema.execute(query, variable_values={"yes": True}))
    return result.data, sorted((e.message, e.path) for e in result.errors or [])


@pytest.mark.parametrize("query", [*QUERIES, "{ shapes { name ... on Square { later } } }"])
def test_same_answer_and_errors_as_the_general_path(query: str) -> None:
    fast, general = _schemas()
    answer = _answer(fast, query)
    assert all(path for _, path in answer[1]), answer  # valid queries: every error has its place
    assert answer == _answer(general, query)
    assert _answer(fast, query) == answer  # and again, from the programs made the first time


def test_values_errors_and_their_propagation() -> None:
    fast, _ = _schemas()
    data, errors = _answer(fast, QUERIES[0])
    assert data["shapes"][0] == {"__typename": "Square", "name": "a", "side": 2, "area": 4, "where": "shapes/0/where",
                                 "parts": [{"label": "p", "count": 0}, {"label": "q", "count": 1}]}
    assert data["shapes"][1] == {"__typename": "Circle", "name": "b", "radius": 1.5}
    assert data["shapes"][4]["parts"] == [{"label": "s", "count": None}]  # "x" refused: null, and an error
    assert data["shapes"][5]["parts"] is None  # a null label: the part, then the list, become null
    assert sorted(path for _, path in errors) == [["shapes", 4, "parts", 0, "count"],
                                                  ["shapes", 5, "parts", 1, "label"]]
    slots = _answer(fast, QUERIES[3])
    assert slots[0] is None  # slot 2's shape is not a Shape: non-null up to the root
    assert ["slots", 2, "shape"] in [path for _, path in slots[1]]


def test_strings_ids_and_runtime_types_as_the_general_path_gives_them() -> None:
    fast, _ = _schemas()
    data, errors = _answer(fast, "{ tags { text ident note } }")
    assert data["tags"] == [{"text": "plain", "ident": "x1", "note": None}, {"text": "7", "ident": "12", "note": "n"},
                            {"text": "t3", "ident": "x3", "note": None}] and not errors
    data, _ = _answer(fast, "{ tags: cast { __typename name } }")
    assert data["tags"] == [{"__typename": "Square", "name": "loose"}, {"__typename": "Circle", "name": "b"}]
    assert _answer(fast, "{ dots { __typename } }")[0]["dots"][4] == {"__typename": "Dot"}


def test_an_interface_naming_its_types_without_info_builds_none(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, general = _schemas()
    built: list[str] = []
    build = StrawberryGraphQLCoreExecutionContext.build_resolve_info

    def counted(self: Any, field_def: Any, field_nodes: Any, parent_type: Any, path: Any) -> Any:
        built.append(f"{parent_type.name}.{path.key}")
        return build(self, field_def, field_nodes, parent_type, path)
    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "build_resolve_info", counted)
    query = "{ holders { dot { __typename name } } }"
    answer = _answer(general, query)
    assert built.count("Holder.dot") == 5  # the general path: one for each holder's dot (and its fields)
    for _ in range(2):  # the second time from the programs made the first
        built.clear()
        assert _answer(fast, query) == answer
        assert built == ["Query.holders"]  # the list field's own only


def test_items_are_completed_without_field_executions(executed_fields: list[str]) -> None:
    fast, _ = _schemas()
    executed = executed_fields
    fast.execute_sync("{ shapes { name ... on Square { area parts { label } } } }")
    # Square "e" has a part with a null label: the program gives up on the whole item, completed then field by
    # field: `area` (a plain method) by its step, `parts` by the general path, whose items are completed by their
    # program again, until the one that gives up.
    assert executed == ["shapes", "parts", "label"]


def test_an_objects_methods_and_plain_lists_are_completed_without_field_executions(
        executed_fields: list[str]) -> None:
    fast, general = _schemas()
    data, errors = _answer(fast, QUERIES[-3])
    assert executed_fields == ["board"] and not errors
    assert data["board"]["headline"] == "all: 6 shapes" and len(data["board"]["shapes"]) == 6
    # A method that fails, and a list whose items' program gives up, are left to the general path, which reports
    # them where graphql-core would.
    executed_fields.clear()
    assert _answer(fast, QUERIES[-2]) == _answer(general, QUERIES[-2]) == (
        {"board": None}, [("no headline for all", ["board", "fragileHeadline"])])
    assert executed_fields == ["board", "fragileHeadline"]


def test_a_guarded_field_keeps_the_general_path_and_runs_its_extension_for_every_item() -> None:
    fast, general = _schemas()
    GUARDED.clear()
    data, errors = _answer(fast, QUERIES[2])
    assert GUARDED == ["a", "hidden", "d", "e"]
    assert errors == [("not for you", ["shapes", 2, "secret"])] and data["shapes"][2] == {"name": "hidden",
                                                                                          "secret": None}
    GUARDED.clear()
    assert _answer(general, QUERIES[2]) == (data, errors) and GUARDED == ["a", "hidden", "d", "e"]


def test_an_awaitable_from_a_plain_method_falls_back_without_a_warning() -> None:
    fast, _ = _schemas()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, errors = _answer(fast, "{ shapes { name ... on Square { later } } }")
        gc.collect()
    assert [s.get("later") for s in data["shapes"]] == [3, None, 4, None, 2, 5] and not errors
    assert not [w for w in caught if "never awaited" in str(w.message)]


@pytest.fixture
def fresh_operations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(KeptCollections, "_operations", {})


def test_what_is_kept_for_an_operation_does_not_grow_with_its_requests(fresh_operations: None) -> None:
    fast, _ = _schemas()
    for _ in range(3):
        fast.execute_sync(QUERIES[0])
    [kept] = KeptCollections._operations.values()
    size = len(kept.extras), len(kept.derived)
    for _ in range(20):
        fast.execute_sync(QUERIES[0])
    assert list(KeptCollections._operations.values()) == [kept]
    assert (len(kept.extras), len(kept.derived)) == size and size[0] >= 1



def test_items_whose_program_keeps_giving_up_stop_trying_it(fresh_operations: None) -> None:
    fast, _ = _schemas()
    LATER.clear()
    data, errors = _answer(fast, "{ many { later } }")
    assert [m["later"] for m in data["many"]] == [i + 1 for i in range(40)] and not errors
    # Each give-up costs a call of the plain method: by the item's program, then by the field's own step as the
    # item is completed field by field, then on the general path; each of the two stops being tried after 32 in a
    # row, and only the general path is left.
    assert len(LATER) == 40 + 2 * GIVE_UPS
    LATER.clear()
    assert _answer(fast, "{ many { later } }") == (data, errors) and len(LATER) == 40
