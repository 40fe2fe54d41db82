"""Plain leaf fields (a scalar or enum read from an attribute, with no resolver, arguments or field extension)
completed in one step: most of a timeline's ~140 field values are such, and graphql-core's general path (resolve
info, argument values, awaitable checks, completion by type) costs several times the read itself."""

from __future__ import annotations

from typing import Any, NamedTuple

from graphql import GraphQLLeafType, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, Undefined
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

_MISSING = object()


class Leaf(NamedTuple):
    attribute: str
    type: GraphQLLeafType
    nullable: bool


def plain_leaf(schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> Leaf | None:
    """What a field reads, when it is a plain leaf; None for every other field (resolvers, extensions, objects)."""
    field = schema.get_field(parent, name)
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or definition.extensions or definition.base_resolver is not None:
        return None
    of_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(of_type, GraphQLLeafType):
        return None
    return Leaf(definition.python_name, of_type, not isinstance(field.type, GraphQLNonNull))


class LeafExecution(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution, with plain leaf fields read and serialized directly. Anything unusual (a null where
    the schema says non-null, a value the type refuses, arguments, a schema extension resolving fields) takes the
    general path, which reports it as it always has."""

    _plans: dict[tuple[GraphQLSchema, str, str], Leaf | None] = {}

    def execute_field(self, parent_type: GraphQLObjectType, source: Any, field_details_list: FieldDetailsList,
                      path: Path, position_context: Any) -> Any:
        node = field_details_list[0].node
        middleware = self.middleware_manager
        if not node.arguments and (middleware is None or not middleware._middleware_resolvers):
            key = (self.schema, parent_type.name, node.name.value)
            leaf = self._plans.get(key, Undefined)
            if leaf is Undefined:
                leaf = self._plans[key] = plain_leaf(self.schema, parent_type, node.name.value)
            if leaf is not None:
                value = getattr(source, leaf.attribute, _MISSING)
                if value is None:
                    if leaf.nullable:
                        return None
                elif value is not _MISSING:
                    try:
                        serialized = leaf.type.serialize(value)
                    except Exception:  # noqa: BLE001 - the general path reports it, with its place
                        serialized = None
                    if serialized is not None and serialized is not Undefined:
                        return serialized
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
