"""An execution context that leaves no reference cycle behind, so that a request's values are freed by reference
counting as soon as its answer is written, rather than by the garbage collector's next pass."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from graphql import GraphQLResolveInfoHelpers
from graphql.pyutils import gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class AcyclicExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor hands resolvers helpers bound to itself, which it holds: a cycle that kept the whole
    request (context, loaders, results) alive until a collection. These helpers do the same without holding it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = GraphQLResolveInfoHelpers(gather=_gather, track=_tracker(weakref.ref(self)))


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)


def _tracker(execution: weakref.ref[AcyclicExecution]) -> Callable[[Sequence[Any]], None]:
    def track(values: Sequence[Any]) -> None:
        live = execution()
        if live is not None:  # a resolver outliving its request has no execution to settle its work in
            live.track_async_work(values)
    return track
