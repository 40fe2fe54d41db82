"""Resolvers called without strawberry's per-call wrapper where it does nothing: a plain method of a type, with no
arguments, field extension or exception handler, taking only `self` (and perhaps `info`). Strawberry's wrapper
builds an Info, converts no arguments and runs no extension on every such call (~3 µs, about a dozen times per
timeline); graphql-core still builds the resolve info, completes the value and reports errors as for any field.
Such methods read what their object holds, with no side effect: a list item's program (schema/compiled.py) that
gives up runs them again on the general path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

Resolve = Callable[..., Any]


def without_info(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an abstract type's `resolve_type` that never reads its resolve info: a list item's program then names
    the runtime type without building one (schema/leaves.py)."""
    function.reads_info = False  # type: ignore[attr-defined]
    return function


def lean_resolve(definition: StrawberryField, converter: GraphQLCoreConverter) -> Resolve | None:
    """The lean resolve function of a field, or None when strawberry's wrapper has work to do there."""
    resolver = definition.base_resolver
    if (resolver is None or definition.extensions or resolver.is_async or resolver.arguments
            or resolver.self_parameter is None or resolver.root_parameter is not None
            or resolver.parent_parameter is not None or converter._get_field_exception_handlers(definition)):
        return None
    reserved = sum(parameter is not None for parameter in resolver.reserved_parameters.values())
    if reserved != len(resolver.signature.parameters):
        return None  # a parameter strawberry fills in some other way
    function = resolver.wrapped_func
    info_parameter = resolver.info_parameter
    if info_parameter is None:
        def resolve(source: Any, _info: GraphQLResolveInfo | None) -> Any:
            return function(source)
        resolve.needs_info = False  # type: ignore[attr-defined]  # read by schema/compiled.py
        return resolve
    info_class, name = converter.config.info_class, info_parameter.name

    def resolve_with_info(source: Any, info: GraphQLResolveInfo) -> Any:
        return function(source, **{name: info_class(_raw_info=info, _field=definition)})
    resolve_with_info.needs_info = True  # type: ignore[attr-defined]
    return resolve_with_info


def lean_resolvers(schema: GraphQLSchema, converter: GraphQLCoreConverter) -> list[str]:
    """Give every field that qualifies its lean resolve function; the `Type.field` names it did."""
    done = []
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            lean = _lean(field, converter)
            if lean is not None:
                field.resolve = lean
                done.append(f"{type_.name}.{name}")
    return done


def _lean(field: GraphQLField, converter: GraphQLCoreConverter) -> Resolve | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if type(definition) is not StrawberryField or field.args:  # a subclass may get its result its own way
        return None
    return lean_resolve(definition, converter)
