"""Resolvers called without strawberry's per-call wrapper where it does nothing: a method of a type with no field
extension or exception handler, taking `self`, perhaps `info`, and arguments whose values strawberry would hand over
as graphql-core coerced them (built-in and custom scalars, optional or not; an argument of another type given in a
request sends that call through strawberry's wrapper). Strawberry's wrapper builds an Info, converts the arguments
(looking up every argument's GraphQL name on every call) and runs no extension; graphql-core still builds the resolve
info, awaits an async method, completes the value and reports errors as for any field.

A plain method (no arguments, not async) reads what its object holds, with no side effect: a list item's program
(schema/compiled.py) that gives up runs it again on the general path. Programs never call the other lean resolvers
(they have no `needs_info`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField

Resolve = Callable[..., Any]


def without_info(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an abstract type's `resolve_type` that never reads its resolve info: a list item's program then names
    the runtime type without building one (schema/leaves.py)."""
    function.reads_info = False  # type: ignore[attr-defined]
    return function


def lean_resolve(definition: StrawberryField, converter: GraphQLCoreConverter,
                 general: Resolve | None = None) -> Resolve | None:
    """The lean resolve function of a field, or None when strawberry's wrapper has work to do there. `general`
    (strawberry's own resolve function) answers the calls given an argument that is not a plain scalar; without
    it, a field with such an argument stays with strawberry's wrapper."""
    resolver = definition.base_resolver
    if (resolver is None or definition.extensions or definition.is_subscription
            or inspect.isasyncgenfunction(resolver.wrapped_func) or resolver.self_parameter is None
            or resolver.root_parameter is not None or resolver.parent_parameter is not None
            or converter._get_field_exception_handlers(definition)):
        return None
    reserved = sum(parameter is not None for parameter in resolver.reserved_parameters.values())
    if reserved + len(resolver.arguments) != len(resolver.signature.parameters):
        return None  # a parameter strawberry fills in some other way
    names = _argument_names(definition.arguments, converter)
    if names is None or (general is None and len(names[0]) < len(definition.arguments)):
        return None
    if not definition.arguments and not resolver.is_async:
        return _plain(definition, converter)
    return _with_arguments(definition, converter, names, general)


def _argument_names(arguments: list[StrawberryArgument], converter: GraphQLCoreConverter
                    ) -> tuple[dict[str, str], dict[str, str]] | None:
    """GraphQL name -> Python name of the arguments strawberry hands over unconverted, and of the optional ones
    it converts except when null (a null input or enum is handed over as None); None when an argument has a
    directive or no Python name."""
    plain, when_null = {}, {}
    for argument in arguments:
        if argument.directives or argument.python_name is None:
            return None
        of_type = argument.type
        optional = isinstance(of_type, StrawberryOptional) and not isinstance(of_type, StrawberryMaybe)
        if optional:
            of_type = of_type.of_type  # type: ignore[union-attr]
        name = converter.config.name_converter.from_argument(argument)
        if of_type is not GlobalID and not isinstance(of_type, StrawberryMaybe) \
                and is_scalar(of_type, converter.scalar_registry):
            plain[name] = argument.python_name
        elif optional:
            when_null[name] = argument.python_name
    return plain, when_null


def _plain(definition: StrawberryField, converter: GraphQLCoreConverter) -> Resolve:
    """A method of `self` alone (and perhaps `info`), not async: the kind list items' programs may call."""
    resolver = definition.base_resolver
    assert resolver is not None
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


def _with_arguments(definition: StrawberryField, converter: GraphQLCoreConverter,
                    names: tuple[dict[str, str], dict[str, str]], general: Resolve | None) -> Resolve:
    """A method taking arguments, or async: its result (a coroutine for an async method) handed to graphql-core."""
    resolver = definition.base_resolver
    assert resolver is not None
    function = resolver.wrapped_func
    info_class = converter.config.info_class
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    plain, when_null = names

    def resolve_lean(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        kwargs = {}
        for name, value in args.items():
            python_name = plain.get(name)
            if python_name is None:
                python_name = when_null.get(name) if value is None else None
                if python_name is None:  # a value strawberry converts
                    return general(source, info, **args)  # type: ignore[misc]
            kwargs[python_name] = value
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=definition)
        return function(source, **kwargs)
    return resolve_lean


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
    if type(definition) is not StrawberryField or field.subscribe is not None:  # a subclass may get its result its
        return None  # own way; a subscription's resolve hands over its events
    return lean_resolve(definition, converter, field.resolve)
