"""Queries of a few loop iterations sent together: one alone, several at once, five at most per call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from datasources.crm.query_batch import QueryBatch


class Calls:
    def __init__(self) -> None:
        self.alone: list[str] = []
        self.together: list[list[str]] = []

    async def one(self, soql: str) -> list[dict]:
        self.alone.append(soql)
        return [{"q": soql}]

    async def many(self, queries: Sequence[str]) -> list[list[dict] | BaseException]:
        self.together.append(list(queries))
        return [ValueError(q) if q == "bad" else [{"q": q}] for q in queries]


def test_one_alone_several_together_and_five_at_most() -> None:
    calls = Calls()
    batch = QueryBatch(calls.one, calls.many)

    async def main() -> None:
        assert await batch.run("a") == [{"q": "a"}]
        got = await asyncio.gather(*(batch.run(str(i)) for i in range(7)), batch.run("bad"), return_exceptions=True)
        assert got[:7] == [[{"q": str(i)}] for i in range(7)] and isinstance(got[7], ValueError)

    asyncio.run(main())
    assert calls.alone == ["a"]
    assert calls.together == [["0", "1", "2", "3", "4"], ["5", "6", "bad"]]


def test_a_query_left_by_a_stopped_loop_does_not_hold_up_the_next() -> None:
    calls = Calls()
    batch = QueryBatch(calls.one, calls.many)

    async def enqueue_and_leave() -> None:
        batch.run("lost")  # the loop ends before the batch goes out

    loop = asyncio.new_event_loop()
    loop.run_until_complete(enqueue_and_leave())
    loop.close()  # closed at once: its pending callbacks never run

    async def ask() -> list[dict]:
        return await asyncio.wait_for(batch.run("next"), 5)

    assert asyncio.run(ask()) == [{"q": "next"}]
