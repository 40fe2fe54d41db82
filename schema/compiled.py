"""Programs that complete an object from a kept field set in one pass: the items of a list (a timeline's edges, a
person's accounts) and the objects, lists and interface values under them, as long as every field is a plain
attribute, a lean method (schema/lean.py) or `__typename`. A program is made once per kept field set and runtime
type; graphql-core's general path would rebuild the same decisions for every item (~50 µs for a timeline node).
An object completed field by field (schema/leaves.py) has its fields that are lean methods or plain lists done by
their step (`value_step`) the same way.

A program never reports anything itself: a null the schema forbids, a value its type refuses, an exception, an
awaitable, an unexpected runtime type all make it give up on the item, which then takes the general path from its
start (the reads and lean methods it ran are side-effect free), and that path reports what it finds as it always
has."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from graphql.type.scalars import serialize_id, serialize_string
from strawberry.schema.schema_converter import GraphQLCoreConverter

if TYPE_CHECKING:
    from schema.leaves import LeafExecution

_MISSING = object()


def plain_attribute(field: GraphQLField | None) -> str | None:
    """The attribute a field reads when it has no resolver, arguments or field extension; None otherwise."""
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or definition.extensions or definition.base_resolver is not None:
        return None
    return definition.python_name


class GiveUp(Exception):
    """The item needs the general path."""


def _serialized(serialize: Callable[[Any], Any], value: Any) -> Any:
    out = serialize(value)
    if out is None or out is Undefined:
        raise GiveUp
    return out


class Program:
    """The steps that complete one object type's kept field set, in the field set's order, run as one function
    generated from them (`run(ex, value, path)`): a leaf's read, checks and serialization inline, with no call at
    all for a string the schema types as String or ID; every other step is called."""

    __slots__ = ("type", "run")

    def __init__(self, type_: GraphQLObjectType, steps: list[Step]) -> None:
        self.type = type_
        self.run: Callable[[LeafExecution, Any, Path], dict[str, Any]] = _generated(type_, steps)


# Serializers that hand back a str unchanged: such a leaf holding a str needs no call.
_KEEP_STR = frozenset({serialize_string, serialize_id})


def _generated(type_: GraphQLObjectType, steps: list[Step]) -> Callable[[LeafExecution, Any, Path], dict[str, Any]]:
    """The function that runs `steps` as running them one by one would: the same reads, in the same order, giving
    up in the same cases."""
    names: dict[str, Any] = {"_MISSING": _MISSING, "_Undefined": Undefined, "GiveUp": GiveUp, "_type": type_}
    lines = ["def run(ex, value, path):"]
    for i, step in enumerate(steps):
        if isinstance(step, TypeName):
            names[f"_v{i}"] = type_.name
            continue
        if not isinstance(step, Leaf):
            names[f"_c{i}"] = step.complete
            lines.append(f"    _v{i} = _c{i}(ex, _type, value, path)")
            continue
        names[f"_s{i}"] = step.serialize
        lines.append(f"    _v{i} = getattr(value, {step.attribute!r}, _MISSING)")
        keeps_str = step.serialize in _KEEP_STR
        if keeps_str:
            lines.append(f"    if _v{i}.__class__ is str:")
            lines.append("        pass")
        lines.append(f"    {'elif' if keeps_str else 'if'} _v{i} is None:")
        lines.append("        pass" if step.nullable else "        raise GiveUp")
        lines.append(f"    elif _v{i} is _MISSING:")
        lines.append("        raise GiveUp")
        lines.append("    else:")
        lines.append(f"        _v{i} = _s{i}(_v{i})")
        lines.append(f"        if _v{i} is None or _v{i} is _Undefined:")
        lines.append("            raise GiveUp")
    entries = ", ".join(f"{step.name!r}: _v{i}" for i, step in enumerate(steps))
    lines.append(f"    return {{{entries}}}")
    namespace = dict(names)
    exec("\n".join(lines), namespace)  # noqa: S102 - code made here from the schema's own names, quoted by repr
    return namespace["run"]


class Step:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def complete(self, ex: LeafExecution, parent: GraphQLObjectType, source: Any, path: Any) -> Any:
        raise NotImplementedError


class Leaf(Step):
    """A plain attribute of a scalar or enum type (read, checked and serialized inline by the generated function)."""

    __slots__ = ("attribute", "serialize", "nullable")

    def __init__(self, name: str, attribute: str, serialize: Callable[[Any], Any], nullable: bool) -> None:
        super().__init__(name)
        self.attribute, self.serialize, self.nullable = attribute, serialize, nullable


class TypeName(Step):
    """`__typename`: the object type's name, a constant of the generated function."""

    __slots__ = ()


# Where a field's resolve info would come from, built only when something asks for it: the info itself (a list
# field's, handed in by graphql-core), or (the Value step, its parent type, the parent's path).
Where = Any


def info_from(ex: LeafExecution, where: Where) -> Any:
    """The resolve info `where` names, built now when it is not built yet."""
    if type(where) is tuple:
        step, parent, path = where
        return ex.build_resolve_info(step.field, step.nodes, parent, as_path((path, step.name, parent.name)))
    return where


def as_path(chain: Any) -> Path | None:
    """A response path as graphql-core's Path: programs chain plain tuples (prev, key, typename), as cheap to make as
    a Path is not, and turn them into Paths only when a resolve info needs one."""
    if type(chain) is not tuple:
        return chain
    prev, key, typename = chain
    return Path(as_path(prev), key, typename)


class Value(Step):
    """A field whose value is completed by its type: a plain attribute or a lean method's result."""

    __slots__ = ("attribute", "field", "nodes", "resolve", "completion", "needs_info")

    def __init__(self, name: str, attribute: str | None, field: GraphQLField, nodes: list[FieldNode],
                 completion: Completion) -> None:
        super().__init__(name)
        self.attribute, self.field, self.nodes, self.completion = attribute, field, nodes, completion
        self.resolve = field.resolve
        self.needs_info = attribute is None and bool(self.resolve.needs_info)

    def complete(self, ex: LeafExecution, parent: GraphQLObjectType, source: Any, path: Any) -> Any:
        if self.attribute is not None:
            value = getattr(source, self.attribute, _MISSING)
            if value is _MISSING:
                raise GiveUp
        else:
            value = self.resolve(source, info_from(ex, (self, parent, path)) if self.needs_info else None)
            if ex.is_awaitable(value):
                getattr(value, "close", lambda: None)()  # a coroutine never awaited would warn
                raise GiveUp
        return self.completion.complete(ex, value, (path, self.name, parent.name), (self, parent, path))


GIVE_UPS = 32  # a list's items in a row whose program gave up: then its items take the general path only


class Completion:
    """How a field's value (or a list's item) is completed by its type."""

    __slots__ = ("nullable", "give_ups")

    def __init__(self, nullable: bool) -> None:
        self.nullable = nullable
        self.give_ups = 0  # in a row, as a list's items: past GIVE_UPS it is not tried again

    def item(self, ex: LeafExecution, value: Any, path: Any, where: Where) -> Any:
        """A list's item completed, or GiveUp; items whose program keeps giving up stop being tried (every give-up
        costs the general path as well)."""
        if self.give_ups >= GIVE_UPS:
            raise GiveUp
        try:
            out = self.complete(ex, value, path, where)
        except Exception:
            self.give_ups += 1
            raise
        self.give_ups = 0
        return out

    def complete(self, ex: LeafExecution, value: Any, path: Any, where: Where) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise GiveUp
        return self.complete_value(ex, value, path, where)

    def complete_value(self, ex: LeafExecution, value: Any, path: Any, where: Where) -> Any:
        raise NotImplementedError


class LeafCompletion(Completion):
    __slots__ = ("serialize",)

    def __init__(self, nullable: bool, serialize: Callable[[Any], Any]) -> None:
        super().__init__(nullable)
        self.serialize = serialize

    def complete_value(self, ex: LeafExecution, value: Any, path: Any, where: Where) -> Any:
        return _serialized(self.serialize, value)


class ObjectCompletion(Completion):
    """An object, or an interface or union value, completed by its runtime type's program."""

    __slots__ = ("type", "fields", "programs", "takes")

    def __init__(self, nullable: bool, type_: GraphQLObjectType | GraphQLAbstractType, fields: FieldDetailsList,
                 takes: Callable[[Any], bool] | None) -> None:
        super().__init__(nullable)
        self.type, self.fields, self.takes = type_, fields, takes
        self.programs: dict[str, Program | None] = {}

    def complete_value(self, ex: LeafExecution, value: Any, path: Any, where: Where) -> Any:
        if self.takes is not None:  # an object type that tells without a resolve info
            if not self.takes(value):
                raise GiveUp
            runtime: GraphQLObjectType | None = self.type  # type: ignore[assignment]
        else:
            runtime = ex.runtime_type(self.type, value, where)
        if runtime is None:
            raise GiveUp
        program = self.programs.get(runtime.name, _MISSING)
        if program is _MISSING:
            program = self.programs[runtime.name] = ex.program(runtime, self.fields)
        if program is None:
            raise GiveUp
        return program.run(ex, value, path)  # type: ignore[union-attr]


class ListCompletion(Completion):
    __slots__ = ("item",)

    def __init__(self, nullable: bool, item: Completion) -> None:
        super().__init__(nullable)
        self.item = item

    def complete_value(self, ex: LeafExecution, value: Any, path: Any, where: Where) -> Any:
        if type(value) is not list and type(value) is not tuple:
            raise GiveUp  # an iterator would be spent for the general path
        item = self.item
        return [item.complete(ex, v, (path, i, None), where) for i, v in enumerate(value)]


def completion(ex: LeafExecution, type_: GraphQLOutputType, fields: FieldDetailsList) -> Completion | None:
    """How values of `type_` are completed by programs; None for what only the general path does."""
    nullable = not isinstance(type_, GraphQLNonNull)
    of_type = type_ if nullable else type_.of_type  # type: ignore[union-attr]
    if isinstance(of_type, GraphQLList):
        item = completion(ex, of_type.of_type, fields)
        return None if item is None else ListCompletion(nullable, item)
    if isinstance(of_type, GraphQLLeafType):
        return LeafCompletion(nullable, ex.serializer(of_type))
    if isinstance(of_type, GraphQLObjectType):
        return ObjectCompletion(nullable, of_type, fields, ex.taker(of_type))
    if isinstance(of_type, GraphQLAbstractType):
        return ObjectCompletion(nullable, of_type, fields, None)
    return None


def build(ex: LeafExecution, type_: GraphQLObjectType, fields: Iterable[Any]) -> Program | None:
    """The program of a kept field set's fields (schema.leaves' derived `_Field`s); None when one of them needs the
    general path."""
    steps = []
    for response_name, field_details_list, plan, leaf in fields:
        step = _step(ex, type_, response_name, field_details_list, plan, leaf)
        if step is None:
            return None
        steps.append(step)
    return Program(type_, steps)


def value_step(ex: LeafExecution, type_: GraphQLObjectType, response_name: str,
               field_details_list: FieldDetailsList) -> Value | None:
    """The step completing a field that is neither a plain leaf nor `__typename` (a lean method's value, a plain
    list or interface), for an object completed field by field; None when it needs the general path."""
    step = _step(ex, type_, response_name, field_details_list, None, False)
    return step if isinstance(step, Value) else None


def _step(ex: LeafExecution, type_: GraphQLObjectType, response_name: str, field_details_list: FieldDetailsList,
          plan: Any, leaf: bool) -> Step | None:
    node = field_details_list[0].node
    if node.name.value == "__typename":
        return TypeName(response_name)
    if plan is not None and leaf:
        return Leaf(response_name, plan.attribute, plan.serialize, plan.nullable)
    field = type_.fields.get(node.name.value)
    if field is None or node.arguments or field.args:
        return None
    attribute = plain_attribute(field)
    if attribute is None and getattr(field.resolve, "needs_info", None) is None:
        return None  # neither a plain attribute nor a lean method
    how = completion(ex, field.type, field_details_list)
    if how is None:
        return None
    return Value(response_name, attribute, field, [d.node for d in field_details_list], how)
