"""People, studies and their parts, looked up in the CTMS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain import Person, Study
from resolvers.context import RequestContext
from resolvers.cursors import cursor_id, id_cursor
from resolvers.errors import BadInput
from resolvers.paging import check_first

T = TypeVar("T")
SEARCH_MAX = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[tuple[str, T]]
    has_next: bool
    has_previous: bool


def _check_search(search: str | None) -> str | None:
    if search is None:
        return None
    text = search.strip()
    if len(text) > SEARCH_MAX:
        raise BadInput(f"search is longer than {SEARCH_MAX} characters", field="search")
    if any(ord(c) < 32 for c in text):
        raise BadInput("search contains control characters", field="search")
    if "%" in text:
        # VQL's LIKE has no escape for its wildcard: "%" would match everything instead of itself.
        raise BadInput("search cannot contain %", field="search")
    return text or None


async def _page(kind: str, fetch: Callable[[str | None, str | None, int], Awaitable[list]], search: str | None,
                first: int | None, after: str | None) -> Page:
    n = check_first(first)
    after_id = cursor_id(kind, after)
    rows = await fetch(_check_search(search), after_id, n + 1)
    return Page([(id_cursor(kind, r.id), r) for r in rows[:n]], len(rows) > n, after is not None)


async def people(ctx: RequestContext, search: str | None, first: int | None, after: str | None) -> Page[Person]:
    return await _page("people", ctx.loaders.search_people, search, first, after)


async def studies(ctx: RequestContext, search: str | None, first: int | None, after: str | None) -> Page[Study]:
    return await _page("studies", ctx.loaders.search_studies, search, first, after)
