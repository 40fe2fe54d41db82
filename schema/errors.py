"""Turns resolver errors into GraphQL errors with a code and the request id, and logs each error once by its kind:
a caller's mistake or a failing source in one line (never a backend's text), an unexpected error with its traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionContext, ExecutionResult

from resolvers.errors import ClientError, SourceError, SourceRejected
from schema.hooks import HookRunner
from schema.lean import lean_resolvers
from schema.leaves import LeafExecution

log = logging.getLogger("ccgw.graphql")
INTERNAL = "INTERNAL_SERVER_ERROR"


def request_id(execution_context: ExecutionContext | None) -> str | None:
    """The id the gateway gave this HTTP request (gateway.request_id), when it runs for one."""
    context = execution_context.context if execution_context is not None else None
    request = context.get("request") if isinstance(context, dict) else None
    return getattr(getattr(request, "state", None), "request_id", None)


def source_failure(exc: SourceError) -> tuple[str, dict[str, Any]]:
    """What a caller sees of a failing source: which one, and whether it was down or refused the request."""
    if isinstance(exc, SourceRejected):
        return f"{exc.source} refused the request", {"code": "SOURCE_UNAVAILABLE", "source": exc.source,
                                                     "reason": "REJECTED"}
    return f"{exc.source} is unavailable", {"code": "SOURCE_UNAVAILABLE", "source": exc.source,
                                            "reason": "UNAVAILABLE"}


def _shape(error: GraphQLError) -> tuple[str, dict[str, Any]]:
    original = error.original_error
    if original is None:
        extensions = error.extensions or {}
        code = extensions.get("code") or ("GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_USER_INPUT")
        return error.message, {**extensions, "code": code}
    if isinstance(original, ClientError):
        return original.message, {"code": original.code, **original.extensions}
    if isinstance(original, SourceError):
        return source_failure(original)
    if isinstance(original, InvalidOperationTypeError):  # a query or mutation sent over WebSocket
        return f"{error.message} over WebSocket: send them over HTTP", {"code": "OPERATION_NOT_ALLOWED"}
    if isinstance(original, ValueError) and error.path is None:
        return str(original), {"code": "BAD_USER_INPUT"}
    return "Internal error; it has been logged.", {"code": INTERNAL}


def shape_error(error: GraphQLError, rid: str | None) -> GraphQLError:
    """The error as the caller sees it: a code, our own message, and the request id."""
    if isinstance(error.original_error, GraphQLError):
        return shape_error(error.original_error, rid)
    message, extensions = _shape(error)
    if rid:
        extensions["requestId"] = rid
    return GraphQLError(message, error.nodes, error.source, error.positions, error.path, extensions=extensions)


def _where(path: Any) -> str:
    return ".".join(str(p) for p in path or ()) or "-"


def log_source_failure(exc: SourceError, path: Any, rid: str | None) -> None:
    """One line: the source, what went wrong in our words, the backend's status and code; never its text."""
    cause = exc.__cause__
    if cause is not None and not isinstance(cause, SourceError):
        log.error("request %s: reading %s failed unexpectedly at %s", rid, exc.source, _where(path), exc_info=cause)
        return
    log.warning("request %s: %s %s at %s (%s; status %s, code %s)", rid, exc.source,
                "refused the request" if isinstance(exc, SourceRejected) else "unavailable", _where(path),
                exc.reason, exc.status, exc.code)


def log_error(error: GraphQLError, rid: str | None) -> None:
    """A caller's mistake or a failing source in one line; only what nobody expected gets a traceback."""
    original = error.original_error
    if isinstance(original, GraphQLError):
        log_error(original, rid)
    elif isinstance(original, SourceError):
        log_source_failure(original, error.path, rid)
    else:
        code = _shape(error)[1]["code"]
        if code == INTERNAL:
            log.error("request %s: unexpected error at %s", rid, _where(error.path), exc_info=original)
        else:  # the message can quote the caller's input: the code and the place say enough
            log.info("request %s: %s at %s", rid, code, _where(error.path))


class GatewaySchema(strawberry.Schema):
    """The schema, logging errors the way their kind deserves (strawberry logs each one with a traceback),
    completing plain leaf fields directly (schema/leaves.py), calling plain methods without strawberry's wrapper
    (schema/lean.py) and making extension hooks once (schema/hooks.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("execution_context_class", LeafExecution)
        super().__init__(*args, **kwargs)
        lean_resolvers(self._schema, self.schema_converter)

    def create_extensions_runner(self, execution_context: ExecutionContext,
                                 extensions: list[SchemaExtension]) -> SchemaExtensionsRunner:
        return HookRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        rid = request_id(execution_context)
        for error in errors:
            log_error(error, rid)


class ErrorShaping(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        self._shape(self.execution_context.result)

    def on_stream_result(self, result: object) -> Iterator[None]:
        """Each result of a stream (every event of a subscription) is shaped as a query's answer is, before it is
        sent."""
        if isinstance(result, ExecutionResult):
            self._shape(result)
        yield

    def _shape(self, result: ExecutionResult | None) -> None:
        ec = self.execution_context
        if result is None:
            return
        rid = request_id(ec)
        errors = [shape_error(e, rid) for e in result.errors or []]
        ctx = ec.context.get("ctx") if isinstance(ec.context, dict) else None
        if ctx is not None:
            for path, failure in ctx.failures:
                log_source_failure(failure, path, rid)
                message, extensions = source_failure(failure)
                if rid:
                    extensions["requestId"] = rid
                errors.append(GraphQLError(message, path=list(path), extensions=extensions))
            ctx.failures.clear()  # reported once, should the result be shaped again
        result.errors = errors or None
