"""A span per GraphQL operation, after the OpenTelemetry GraphQL conventions: named `query`, `mutation` or
`query OperationName`, with `graphql.operation.type`, `graphql.operation.name` and `graphql.document`, the document
with its string and number literals replaced. Argument values, variables and results never reach a span: they can
hold personal data. (strawberry's OpenTelemetryExtension records the whole query and every resolver's arguments.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, FloatValueNode, IntValueNode, StringValueNode, Visitor, print_ast, visit
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import NoOpTracer, Span, SpanKind, Status, StatusCode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

UNNAMED = "GraphQL Operation"  # until the document says what it is (and when it never does: a parse failure)
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


class _Literals(Visitor):
    """Replaces the values written into a document: strings by "?", numbers by 0."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> StringValueNode:
        return StringValueNode(value="?")

    def enter_int_value(self, node: IntValueNode, *_: Any) -> IntValueNode:
        return IntValueNode(value="0")

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> FloatValueNode:
        return FloatValueNode(value="0")


def without_literals(document: DocumentNode) -> str:
    """The document as text, its string and number literals (arguments, defaults of variables, directives)
    replaced; enum, boolean and null values stay, as they name nothing of anyone. Comments are not kept."""
    return print_ast(visit(document, _Literals()))


def _error_type(ec: ExecutionContext) -> str | None:
    """The code of the first error of the result (never its message, which can quote the input)."""
    errors = (ec.result.errors if ec.result is not None else None) or ec.pre_execution_errors or []
    if not errors:
        return None
    code = (errors[0].extensions or {}).get("code")
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else "GraphQLError"


def _describe(span: Span, ec: ExecutionContext) -> None:
    """Name the span and set its attributes from the parsed document."""
    if ec.graphql_document is not None:
        try:
            kind: str | None = ec.operation_type.value
        except RuntimeError:  # no operation of the name asked for
            kind = None
        name = ec.operation_name
        if kind:
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
        if name:
            span.set_attribute("graphql.operation.name", name)
        span.set_attribute("graphql.document", without_literals(ec.graphql_document))
    error = _error_type(ec)
    if error:
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR))


class OperationSpan(SchemaExtension):
    """The operation's span, current while it runs, so that the backend calls and store transactions it makes are
    its children. It continues the caller's trace when the request carries a `traceparent` (a router's)."""

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        context = ec.context if isinstance(ec.context, dict) else {}
        ctx = context.get("ctx")
        if ctx is None or isinstance(ctx.services.tracer, NoOpTracer):  # tracing off: nothing to do
            yield
            return
        request = context.get("request")
        parent = propagate.extract(request.headers) if request is not None else None
        span = ctx.services.tracer.start_span(UNNAMED, context=parent, kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            yield
        finally:
            otel_context.detach(token)
            if span.is_recording():
                _describe(span, ec)
            span.end()
