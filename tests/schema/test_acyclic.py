"""An execution leaves no cycle: it is freed as soon as it ends, and the helpers it gives resolvers still work."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from strawberry.types import Info

from schema.acyclic import AcyclicExecution

executions: list[weakref.ref[AcyclicExecution]] = []
settled: list[str] = []


class Recorded(AcyclicExecution):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        executions.append(weakref.ref(self))


async def _later(value: str) -> str:
    await asyncio.sleep(0)
    settled.append(value)
    return value


@strawberry.type
class Query:
    @strawberry.field
    async def both(self, info: Info) -> list[str]:
        helpers = info._raw_info.async_helpers
        helpers.track([_later("tracked")])
        return await helpers.gather([_later("a"), _later("b")])


@pytest.fixture
def paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def test_an_execution_is_freed_when_it_ends_and_its_helpers_work(paused: None) -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=Recorded)
    executions.clear()
    settled.clear()

    async def run() -> Any:
        result = await schema.execute("{ both }")
        await asyncio.sleep(0.01)  # the tracked work settles in the background
        return result

    result = asyncio.run(run())
    assert result.errors is None and result.data == {"both": ["a", "b"]}
    assert sorted(settled) == ["a", "b", "tracked"]
    assert executions and all(ref() is None for ref in executions)  # freed with no collection run
