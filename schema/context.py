"""Access to the request context from a strawberry Info, and recording of partial source failures."""

from __future__ import annotations

from strawberry.types import Info

from resolvers.context import RequestContext
from resolvers.errors import SourceError


def rc(info: Info) -> RequestContext:
    return info.context["ctx"]


def record_failures(info: Info, failures: list[SourceError]) -> None:
    """Keep the field's data, and report each failed source as an error at this path."""
    path = tuple(info.path.as_list())
    for failure in failures:
        rc(info).failures.append((path, failure))
