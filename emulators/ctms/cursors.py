"""Query page tokens: the parsed query behind each `next_page` and `previous_page` URL."""

from __future__ import annotations

import uuid
from collections import OrderedDict

from .errors import ApiError
from .vql import Query

__all__ = ["Cursors"]


class Cursors:
    """Page tokens of a vault, the oldest dropped past `capacity`."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.open: OrderedDict[str, Query] = OrderedDict()

    def add(self, query: Query) -> str:
        token = str(uuid.uuid4())
        self.open[token] = query
        while len(self.open) > self.capacity:
            self.open.popitem(last=False)
        return token

    def get(self, token: str) -> Query:
        query = self.open.get(token)
        if query is None:
            raise ApiError("INVALID_DATA", "The page URL is unknown or has expired")
        return query
