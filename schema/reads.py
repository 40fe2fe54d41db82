"""Which operations may use the backend reads kept across requests: queries; never mutations or subscriptions."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import OperationType, get_operation_ast
from strawberry.extensions import SchemaExtension


class KeptReads(SchemaExtension):
    """A query's loaders recall and keep answers in the read cache (when the gateway has one, CCGW_READ_CACHE_S).
    A mutation reads what its writes are planned on, and a subscription what it tells of, from the backends."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        ctx = ec.context.get("ctx") if isinstance(ec.context, dict) else None
        if ctx is not None and ctx.services.reads is not None:
            operation = get_operation_ast(ec.graphql_document, ec.operation_name) if ec.graphql_document else None
            query = operation is not None and operation.operation is OperationType.QUERY
            ctx.loaders.reads = ctx.services.reads if query else None  # never left on by another operation
        yield
