"""Plain fields (a scalar, an enum or an object read from an attribute, with no resolver, arguments or field
extension) completed directly: most of a timeline's ~140 field values and its sync states' connections are such, and
graphql-core's general path (resolve info, the resolver, argument values, awaitable checks, completion by type)
costs several times the read itself."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, NamedTuple

from graphql import GraphQLField, GraphQLLeafType, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, Undefined
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path
from strawberry.schema.schema_converter import GraphQLCoreConverter

from schema.collected import KeptCollections

_MISSING = object()


class Plain(NamedTuple):
    attribute: str
    type: GraphQLLeafType | GraphQLObjectType
    field: GraphQLField
    nullable: bool


def plain_field(schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> Plain | None:
    """What a field reads, when it is a plain leaf or object; None for every other field (resolvers, extensions,
    arguments, lists, interfaces and unions)."""
    field = schema.get_field(parent, name)
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or definition.extensions or definition.base_resolver is not None:
        return None
    of_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(of_type, GraphQLLeafType | GraphQLObjectType):
        return None
    return Plain(definition.python_name, of_type, field, not isinstance(field.type, GraphQLNonNull))


class LeafExecution(KeptCollections):
    """Strawberry's execution, with plain fields read directly: a leaf serialized, an object's own fields executed.
    Anything unusual (a null where the schema says non-null, a value the type refuses, an object its type's
    `is_type_of` refuses, arguments, a schema extension resolving fields) takes the general path, which reports it as
    it always has."""

    _plans: dict[tuple[GraphQLSchema, str, str], Plain | None] = {}

    def execute_field(self, parent_type: GraphQLObjectType, source: Any, field_details_list: FieldDetailsList,
                      path: Path, position_context: Any) -> Any:
        node = field_details_list[0].node
        middleware = self.middleware_manager
        if not node.arguments and (middleware is None or not middleware._middleware_resolvers):
            key = (self.schema, parent_type.name, node.name.value)
            plan = self._plans.get(key, Undefined)
            if plan is Undefined:
                plan = self._plans[key] = plain_field(self.schema, parent_type, node.name.value)
            if plan is not None:
                value = getattr(source, plan.attribute, _MISSING)
                if value is None:
                    if plan.nullable:
                        return None
                elif value is _MISSING:
                    pass
                elif isinstance(plan.type, GraphQLObjectType):
                    if self._is_of(plan, value, parent_type, field_details_list, path):
                        return self._object(plan, value, field_details_list, path, position_context)
                else:
                    try:
                        serialized = plan.type.serialize(value)
                    except Exception:  # noqa: BLE001 - the general path reports it, with its place
                        serialized = None
                    if serialized is not None and serialized is not Undefined:
                        return serialized
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _is_of(self, plan: Plain, value: Any, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList,
               path: Path) -> bool:
        """Whether the object type takes the value (its `is_type_of`, when it has one)."""
        is_type_of = plan.type.is_type_of  # type: ignore[union-attr]
        if is_type_of is None:
            return True
        verdict = is_type_of(value, self.build_resolve_info(plan.field, to_nodes(field_details_list), parent_type,
                                                            path))
        return verdict is True

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
