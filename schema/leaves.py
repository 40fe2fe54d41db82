"""Plain fields (a scalar, an enum or an object read from an attribute, with no resolver, arguments or field
extension) completed directly: most of a timeline's ~140 field values and its sync states' connections are such, and
graphql-core's general path (resolve info, the resolver, argument values, awaitable checks, completion by type)
costs several times the read itself. A list's items go further, each completed by a program (schema/compiled.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from graphql import (
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

from schema.collected import KeptCollections
from schema.compiled import (
    GIVE_UPS,
    Completion,
    Program,
    Value,
    Where,
    build,
    completion,
    info_from,
    plain_attribute,
    value_step,
)

_MISSING = object()


class Plain(NamedTuple):
    attribute: str
    type: GraphQLLeafType | GraphQLObjectType
    field: GraphQLField
    nullable: bool
    serialize: Callable[[Any], Any] | None  # a leaf's
    takes: Callable[[Any], bool] | None  # an object's type, when it can tell without a resolve info


def _serializer(of_type: GraphQLLeafType) -> Callable[[Any], Any]:
    """The type's serialize; for a strawberry enum, a lookup of its members' names first (strawberry's searches
    its values one by one for every value)."""
    wrapped = getattr(of_type, "wrapped_cls", None)
    if not isinstance(of_type, GraphQLEnumType) or wrapped is None:
        return of_type.serialize
    # By the member's identity (members are singletons): an Enum's hash is a Python call.
    names = {id(member): name for member in wrapped for name, value in of_type.values.items()
             if member.value == value.value}
    general = of_type.serialize

    def serialize(value: Any) -> Any:
        if value.__class__ is wrapped:
            name = names.get(id(value))
            if name is not None:
                return name
        return general(value)
    return serialize


def plain_field(schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> Plain | None:
    """What a field reads, when it is a plain leaf or object; None for every other field (resolvers, extensions,
    arguments, lists, interfaces and unions)."""
    field = schema.get_field(parent, name)
    attribute = plain_attribute(field)
    if attribute is None:
        return None
    assert field is not None
    of_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(of_type, GraphQLLeafType | GraphQLObjectType):
        return None
    nullable = not isinstance(field.type, GraphQLNonNull)
    if isinstance(of_type, GraphQLObjectType):
        return Plain(attribute, of_type, field, nullable, None, _takes(of_type))
    return Plain(attribute, of_type, field, nullable, _serializer(of_type), None)


class _Fields(list):
    """A kept field set's fields, with the program that completes them once one was asked for, and each field's
    step (schema/compiled.py) when it is neither plain nor `__typename` but a step can complete it: a lean method
    (`Person.firstName`), a plain list (a connection's edges, each item by its program)."""

    program: Program | None | object = Undefined
    steps: list[Value | None] | None = None
    give_ups: list[int] | None = None  # each step's, in a row: past GIVE_UPS the field takes the general path only


class _Field(NamedTuple):
    response_name: str
    field_details_list: FieldDetailsList
    plan: Plain | None  # a plain field's plan; None for every other field
    leaf: bool


def _takes(of_type: GraphQLObjectType) -> Callable[[Any], bool] | None:
    """Whether an object type takes a value, asked without a resolve info: None when its `is_type_of` reads one.
    Strawberry's own (for a type with interfaces) never does: it compares classes."""
    is_type_of = of_type.is_type_of
    if is_type_of is None:
        return lambda value: True
    code = getattr(is_type_of, "__code__", None)
    if (getattr(is_type_of, "__module__", None) == GraphQLCoreConverter.__module__
            and is_type_of.__name__ == "is_type_of" and code is not None and code.co_varnames[1:2] == ("_info",)):
        return lambda value: is_type_of(value, None) is True  # type: ignore[arg-type]
    return None


def _namer(abstract: GraphQLAbstractType) -> Callable[[Any], str | None] | None:
    """How an interface's runtime type is named without a resolve info: by its own resolve_type when that is marked
    as reading none (schema.lean.without_info); by strawberry's default resolve_type's rule, for a value not cast
    (strawberry.cast) whose class is a non-generic strawberry type implementing the interface. None for any other
    resolve_type, and for a union. The namer's None: ask the resolve_type itself."""
    resolve = abstract.resolve_type
    if getattr(resolve, "reads_info", True) is False:
        return lambda value: resolve(value, None, abstract)  # type: ignore[misc]
    definition = abstract.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    origin = getattr(definition, "origin", None)
    if (not isinstance(abstract, GraphQLInterfaceType) or origin is None or getattr(definition, "resolve_type", None)
            or getattr(resolve, "__module__", None) != GraphQLCoreConverter.__module__
            or getattr(resolve, "__qualname__", "").rsplit(".", 3)[-3:] != ["_get_resolve_type", "<locals>",
                                                                          "resolve_type"]):
        return None

    def name_of(value: Any) -> str | None:
        if getattr(value, TYPE_CAST_ATTRIBUTE, None) is not None or not isinstance(value, origin):
            return None
        own = getattr(type(value), "__strawberry_definition__", None)
        if own is None or own.is_graphql_generic:
            return None
        return own.name
    return name_of


def _leaf(plan: Plain, source: Any) -> Any:
    """A plain leaf's serialized value, or _MISSING when the general path must report it (no attribute, a null the
    schema forbids, a value the type refuses)."""
    value = getattr(source, plan.attribute, _MISSING)
    if value is None:
        return None if plan.nullable else _MISSING
    if value is _MISSING:
        return _MISSING
    try:
        serialized = plan.serialize(value)  # type: ignore[misc]
    except Exception:  # noqa: BLE001 - the general path reports it, with its place
        return _MISSING
    return _MISSING if serialized is None or serialized is Undefined else serialized


class LeafExecution(KeptCollections):
    """Strawberry's execution, with plain fields read directly: a leaf serialized, an object's own fields executed;
    and a list's items completed by their programs (schema/compiled.py), which this class builds and runs. Anything
    unusual (a null where the schema says non-null, a value the type refuses, an object its type's
    `is_type_of` refuses, arguments, a schema extension resolving fields) takes the general path, which reports it as
    it always has."""

    _plans: dict[tuple[GraphQLSchema, str, str], Plain | None] = {}
    _serializers: dict[GraphQLLeafType, Callable[[Any], Any]] = {}
    _takers: dict[GraphQLObjectType, Callable[[Any], bool] | None] = {}
    _namers: dict[GraphQLAbstractType, Callable[[Any], str | None] | None] = {}
    # This request's lists: id(field details) -> (the field details, their items' completion)
    _item_completions: dict[int, tuple[FieldDetailsList, Completion | None]] | None = None

    def derive(self, return_type: GraphQLObjectType, fields: GroupedFieldSet) -> list[_Field]:
        """A kept field set as its fields in order, each with its plan when it is a plain field."""
        out = _Fields()
        for response_name, field_details_list in fields.items():
            plan = self._plan(return_type, field_details_list)
            out.append(_Field(response_name, field_details_list, plan,
                              plan is not None and not isinstance(plan.type, GraphQLObjectType)))
        return out

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None,
                       grouped_field_set: GroupedFieldSet, position_context: Any) -> Any:
        """graphql-core's, with the plain fields of a kept field set done in the loop: a leaf read (no path, no
        call), an object's own fields executed (its type asked without a resolve info when it can be)."""
        fields: _Fields | None = self.derived(grouped_field_set)
        if fields is None or not self._plain_allowed():
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        steps = fields.steps if fields.steps is not None else self._steps(parent_type, fields)
        try:
            for i, (response_name, field_details_list, plan, leaf) in enumerate(fields):
                value = (_leaf(plan, source_value) if leaf  # type: ignore[arg-type]
                         else _MISSING if steps[i] is None
                         else self._by_step(fields, i, parent_type, source_value, path))
                if value is not _MISSING:
                    results[response_name] = value
                    continue
                field_path = Path(path, response_name, parent_type.name)
                if plan is not None and not leaf:
                    result = self._plain_object(parent_type, source_value, plan, field_details_list, field_path,
                                                position_context)
                else:
                    result = self.execute_field(parent_type, source_value, field_details_list, field_path,
                                                position_context)
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[f] for f in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._awaited_fields(results, awaitable_fields)

    def _steps(self, parent_type: GraphQLObjectType, fields: _Fields) -> list[Value | None]:
        """Each field's step, made once per kept field set: None for a plain field and one a step cannot do."""
        fields.give_ups = [0] * len(fields)
        fields.steps = [None if plan is not None else value_step(self, parent_type, response_name, details)
                        for response_name, details, plan, _ in fields]
        return fields.steps

    def _by_step(self, fields: _Fields, i: int, parent_type: GraphQLObjectType, source: Any, path: Path | None
                 ) -> Any:
        """A field completed by its step, or _MISSING when the step gives up (the general path then runs the field
        from its start and reports what it finds); a step giving up often is dropped."""
        try:
            value = fields.steps[i].complete(self, parent_type, source, path)  # type: ignore[index,union-attr]
        except Exception:  # noqa: BLE001 - the general path reports whatever it was
            give_ups = fields.give_ups
            give_ups[i] += 1  # type: ignore[index]
            if give_ups[i] >= GIVE_UPS:  # type: ignore[index]
                fields.steps[i] = None  # type: ignore[index]
            return _MISSING
        fields.give_ups[i] = 0  # type: ignore[index]
        return value

    def _plain_object(self, parent_type: GraphQLObjectType, source: Any, plan: Plain,
                      field_details_list: FieldDetailsList, path: Path, position_context: Any) -> Any:
        """A plain object field: its own fields executed when its type takes it, else the general path (which
        reports a null the schema forbids or a value the type refuses)."""
        value = getattr(source, plan.attribute, _MISSING)
        if value is None and plan.nullable:
            return None
        if value is not None and value is not _MISSING and self._is_of(plan, value, parent_type, field_details_list,
                                                                       path):
            return self._object(plan, value, field_details_list, path, position_context)
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    async def _awaited_fields(self, results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
        """As graphql-core's execute_fields awaits the fields that returned awaitables."""
        if len(awaitable_fields) == 1:
            results[awaitable_fields[0]] = await results[awaitable_fields[0]]
        else:
            awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
            results.update(zip(awaitable_fields, awaited, strict=True))
        return results

    def execute_field(self, parent_type: GraphQLObjectType, source: Any, field_details_list: FieldDetailsList,
                      path: Path, position_context: Any) -> Any:
        plan = self._plan(parent_type, field_details_list) if self._plain_allowed() else None
        if plan is not None:
            if isinstance(plan.type, GraphQLObjectType):
                return self._plain_object(parent_type, source, plan, field_details_list, path, position_context)
            value = _leaf(plan, source)
            if value is not _MISSING:
                return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_list_item_value(self, item: Any, complete_results: list[Any], item_type: GraphQLOutputType,
                                 field_details_list: FieldDetailsList, info: GraphQLResolveInfo, item_path: Path,
                                 position_context: Any) -> bool:
        """An item completed by its program (schema/compiled.py) when it has one and it does not give up; else as
        graphql-core completes it."""
        how = self._item_completion(item_type, field_details_list) if item is not None else None
        if how is not None:
            try:
                complete_results.append(how.item(self, item, item_path, info))
                return False
            except Exception:  # noqa: BLE001, S110 - the general path below reports whatever it was
                pass
        return super().complete_list_item_value(item, complete_results, item_type, field_details_list, info,
                                                item_path, position_context)

    def _item_completion(self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList
                         ) -> Completion | None:
        """The items' completion of a list field, looked up once per request and list (not once per item)."""
        mine = self._item_completions
        if mine is None:
            mine = self._item_completions = {}
        found = mine.get(id(field_details_list), _MISSING)
        if found is _MISSING or found[0] is not field_details_list:
            how = None
            if self._plain_allowed():
                key = ("items", item_type, *(id(d.node) for d in field_details_list))
                how = self.kept_for(key, lambda: completion(self, item_type, field_details_list))
            found = mine[id(field_details_list)] = (field_details_list, how)
        return found[1]

    def program(self, type_: GraphQLObjectType, field_details_list: FieldDetailsList) -> Program | None:
        """The program completing `type_` with the subfields of `field_details_list`; None when they are not kept
        or one of them needs the general path."""
        collected = self.collect_subfields(type_, field_details_list)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        fields = self.derived(collected.grouped_field_set)
        if not isinstance(fields, _Fields):
            return None
        if fields.program is Undefined:
            fields.program = build(self, type_, fields)
        return fields.program  # type: ignore[return-value]

    def runtime_type(self, type_: GraphQLObjectType | GraphQLAbstractType, value: Any, where: Where
                     ) -> GraphQLObjectType | None:
        """The object type a value completes as, decided as graphql-core does (the field's resolve info built from
        `where` only when a type asks for it); None when it would fail."""
        if isinstance(type_, GraphQLObjectType):
            if type_.is_type_of is None:
                return type_
            takes = self.taker(type_)
            taken = takes(value) if takes is not None else type_.is_type_of(value, info_from(self, where)) is True
            return type_ if taken else None
        if type_.resolve_type is None:
            return None
        namer = self._namers.get(type_, _MISSING)
        if namer is _MISSING:
            namer = self._namers[type_] = _namer(type_)
        name = namer(value) if namer is not None else None  # type: ignore[operator]
        if name is None:
            name = type_.resolve_type(value, info_from(self, where), type_)
        runtime = self.schema.get_type(name) if isinstance(name, str) else None
        if not isinstance(runtime, GraphQLObjectType) or not self.schema.is_sub_type(type_, runtime):
            return None
        return self.runtime_type(runtime, value, where)

    def taker(self, type_: GraphQLObjectType) -> Callable[[Any], bool] | None:
        """Whether the type takes a value, asked without a resolve info (always yes without an `is_type_of`); None
        when its `is_type_of` needs one."""
        found = self._takers.get(type_, _MISSING)
        if found is _MISSING:
            found = self._takers[type_] = _takes(type_)
        return found  # type: ignore[return-value]

    def serializer(self, of_type: GraphQLLeafType) -> Callable[[Any], Any]:
        found = self._serializers.get(of_type)
        if found is None:
            found = self._serializers[of_type] = _serializer(of_type)
        return found

    def _plain_allowed(self) -> bool:
        """Plain fields are read directly unless a middleware wraps every resolver."""
        middleware = self.middleware_manager
        return middleware is None or not middleware._middleware_resolvers

    def _plan(self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Plain | None:
        node = field_details_list[0].node
        if node.arguments:
            return None
        key = (self.schema, parent_type.name, node.name.value)
        plan = self._plans.get(key, Undefined)
        if plan is Undefined:
            plan = self._plans[key] = plain_field(self.schema, parent_type, node.name.value)
        return plan  # type: ignore[return-value]

    def _is_of(self, plan: Plain, value: Any, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList,
               path: Path) -> bool:
        """Whether the object type takes the value: asked without a resolve info when it can be (plan.takes)."""
        if plan.takes is not None:
            return plan.takes(value)
        info = self.build_resolve_info(plan.field, to_nodes(field_details_list), parent_type, path)
        return plan.type.is_type_of(value, info) is True  # type: ignore[union-attr]

    def _object(self, plan: Plain, value: Any, field_details_list: FieldDetailsList, path: Path,
                position_context: Any) -> Any:
        """The object's own fields, an error among them handled as graphql-core's execute_field does."""
        try:
            completed = self.collect_and_execute_subfields(plan.type, field_details_list, path,  # type: ignore[arg-type]
                                                           value, position_context)
        except Exception as raw_error:  # noqa: BLE001 - located, then raised or recorded by the field's nullability
            self.handle_field_error(raw_error, plan.field.type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._awaited(completed, plan, field_details_list, path)
        return completed

    async def _awaited(self, completed: Awaitable[Any], plan: Plain, field_details_list: FieldDetailsList,
                       path: Path) -> Any:
        try:
            return await completed
        except Exception as raw_error:  # noqa: BLE001 - as graphql-core's execute_field does
            self.handle_field_error(raw_error, plan.field.type, field_details_list, path)
            return None
