"""Turns resolver errors into GraphQL errors with codes, adds partial source failures, hides the unexpected."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.errors import ClientError, SourceError

log = logging.getLogger("ccgw.graphql")


def _convert(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:
        if error.extensions and "code" in error.extensions:
            return error
        code = "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_USER_INPUT"
        return GraphQLError(error.message, error.nodes, error.source, error.positions, error.path,
                            extensions={**(error.extensions or {}), "code": code})
    if isinstance(original, GraphQLError):
        return _convert(original)
    if isinstance(original, ClientError):
        message, ext = original.message, {"code": original.code, **original.extensions}
    elif isinstance(original, SourceError):
        message, ext = f"{original.source} is unavailable: {original.reason}", {
            "code": "SOURCE_UNAVAILABLE", "source": original.source}
    elif isinstance(original, LookupError):
        message, ext = str(original.args[0]) if original.args else "not found", {"code": "NOT_FOUND"}
    elif isinstance(original, ValueError) and error.path is None:
        message, ext = str(original), {"code": "BAD_USER_INPUT"}
    else:
        log.error("unexpected error at %s", error.path, exc_info=original)
        message, ext = "Internal error; it has been logged.", {"code": "INTERNAL_SERVER_ERROR"}
    return GraphQLError(message, error.nodes, error.source, error.positions, error.path, extensions=ext)


class ErrorShaping(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None:
            return
        errors = [_convert(e) for e in result.errors or []]
        ctx = (self.execution_context.context or {}).get("ctx") if isinstance(
            self.execution_context.context, dict) else None
        if ctx is not None:
            for path, failure in ctx.failures:
                errors.append(GraphQLError(f"{failure.source} is unavailable: {failure.reason}", path=list(path),
                                           extensions={"code": "SOURCE_UNAVAILABLE", "source": failure.source}))
        result.errors = errors or None
