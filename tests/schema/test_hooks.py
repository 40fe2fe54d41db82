"""Extension hooks made once per hook still run per request, around their phase, on that request's instance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from schema.errors import GatewaySchema
from schema.hooks import HookRunner

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


CALLS: list[tuple[object, str]] = []  # the instances themselves: their ids could be reused


class Recorder(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        CALLS.append((self, "operation:before"))
        yield
        CALLS.append((self, "operation:after"))

    async def on_validate(self) -> AsyncIterator[None]:
        CALLS.append((self, "validate"))
        yield

    def on_execute(self) -> None:  # a plain function: strawberry's own wrapping
        CALLS.append((self, "execute"))


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        CALLS.append((0, "resolve"))
        return "hi"


async def test_every_hook_runs_around_its_phase_on_each_requests_instance() -> None:
    schema = GatewaySchema(query=Query, extensions=[Recorder])
    assert isinstance(schema.create_extensions_runner(None, []), HookRunner)  # type: ignore[arg-type]
    CALLS.clear()
    for _ in range(2):
        assert (await schema.execute("{ hello }")).data == {"hello": "hi"}
    first, second = CALLS[:5], CALLS[5:]
    expected = ["operation:before", "validate", "execute", "resolve", "operation:after"]
    assert [name for _, name in first] == [name for _, name in second] == expected
    instances = [[who for who, name in calls if name != "resolve"] for calls in (first, second)]
    assert all(who is i[0] for i in instances for who in i) and instances[0][0] is not instances[1][0]
