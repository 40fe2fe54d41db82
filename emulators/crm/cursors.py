"""Query locators: the materialized rows of a query, served batch by batch through `nextRecordsUrl`."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from emulators.seed import sf_id

from .errors import ApiError

__all__ = ["Cursors", "Cursor"]

IDLE_S = 15 * 60


@dataclass
class Cursor:
    records: list[dict]
    batch: int
    include_deleted: bool
    touched: float


class Cursors:
    """Open query locators of an org, the least recently used dropped past `capacity` or after 15 idle minutes."""

    def __init__(self, instance: str, capacity: int = 100) -> None:
        self.instance = instance
        self.capacity = capacity
        self.open: OrderedDict[str, Cursor] = OrderedDict()
        self.counter = 0

    def add(self, records: list[dict], batch: int, include_deleted: bool) -> str:
        self.counter += 1
        locator = sf_id("01g", self.instance, self.counter)
        self.open[locator] = Cursor(records, batch, include_deleted, time.monotonic())
        while len(self.open) > self.capacity:
            self.open.popitem(last=False)
        return locator

    def get(self, locator: str) -> Cursor:
        now = time.monotonic()
        for key in [k for k, c in self.open.items() if now - c.touched > IDLE_S]:
            del self.open[key]
        cursor = self.open.get(locator)
        if cursor is None:
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.touched = now
        self.open.move_to_end(locator)
        return cursor
