"""SOQL queries asked for within a few iterations of the event loop, sent to an org together: one query as a plain Query
call, several as one Composite call (up to five queries each, the Composite resource's limit), which is one round trip
and one call against the org's daily API allowance instead of one per query."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from datasources.dataloader import call_after

MAX_QUERIES = 5
# Loop iterations a first query waits for others: a request's reads of one org start a step or two apart (one in a
# task of its own, say), and an iteration with nothing else to run takes microseconds.
WAIT_ITERATIONS = 3

Records = list[dict]
One = Callable[[str], Awaitable[Records]]
# For each query, in order: its records, or the error its subrequest amounts to.
Many = Callable[[Sequence[str]], Awaitable[list[Records | BaseException]]]


class QueryBatch:
    """Collects the queries of a few loop iterations and sends them together."""

    def __init__(self, one: One, many: Many) -> None:
        self._one = one
        self._many = many
        self._pending: list[tuple[str, asyncio.Future[Records]]] = []
        self._sending: set[asyncio.Task[None]] = set()  # held until done: a task nobody references can vanish

    def run(self, soql: str) -> asyncio.Future[Records]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Records] = loop.create_future()
        if self._pending and self._pending[0][1].get_loop() is not loop:
            self._pending = []  # left by an event loop that stopped before sending them: nobody waits for them here
        if not self._pending:
            call_after(WAIT_ITERATIONS, self._flush)
        self._pending.append((soql, future))
        return future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), MAX_QUERIES):
            task = asyncio.get_running_loop().create_task(self._send(pending[start:start + MAX_QUERIES]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, chunk: list[tuple[str, asyncio.Future[Records]]]) -> None:
        # A waiter that gave up (its request ended) does not stop the call the others wait for.
        try:
            if len(chunk) == 1:
                results: list[Records | BaseException] = [await self._one(chunk[0][0])]
            else:
                results = await self._many([soql for soql, _ in chunk])
        except Exception as exc:  # noqa: BLE001 - every waiter hears of it
            results = [exc] * len(chunk)
        for (_, future), result in zip(chunk, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
                future.exception()  # retrieved: its waiter may have gone
            else:
                future.set_result(result)
