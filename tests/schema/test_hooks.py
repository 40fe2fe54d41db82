"""Extension hooks made once per hook still run per request, around their phase, on that request's instance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import OperationContextManager

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


LOG: list[str] = []


class Boom(Exception):
    pass


class Other(Exception):
    pass


def extension(name: str, kind: str, on_error: str = "pass") -> type[SchemaExtension]:
    """An extension whose on_operation logs around its yield; on an exception inside it lets it pass, swallows it
    or raises another."""
    def answer(exc: BaseException) -> None:
        LOG.append(f"{name}:saw {type(exc).__name__}")
        if on_error == "replace":
            raise Other(name)
        if on_error == "pass":
            raise exc

    if kind == "generator":
        def on_operation(self: SchemaExtension) -> Iterator[None]:
            LOG.append(f"{name}:enter")
            try:
                yield
            except Exception as exc:  # noqa: BLE001
                answer(exc)
            LOG.append(f"{name}:leave")
    elif kind == "async generator":
        async def on_operation(self: SchemaExtension) -> AsyncIterator[None]:  # type: ignore[misc]
            LOG.append(f"{name}:enter")
            try:
                yield
            except Exception as exc:  # noqa: BLE001
                answer(exc)
            LOG.append(f"{name}:leave")
    elif kind == "coroutine":
        async def on_operation(self: SchemaExtension) -> None:  # type: ignore[misc]
            LOG.append(f"{name}:called")
    else:
        def on_operation(self: SchemaExtension) -> None:  # type: ignore[misc]
            LOG.append(f"{name}:called")
    return type(name, (SchemaExtension,), {"on_operation": on_operation})


async def run_phase(manager: object, body_raises: type[Exception] | None) -> str:
    """Run a body inside `manager`; what came out of it."""
    try:
        async with manager:  # type: ignore[attr-defined]
            LOG.append("body")
            if body_raises:
                raise body_raises("body")
    except Exception as exc:  # noqa: BLE001
        return f"raised {type(exc).__name__}: {exc}"
    return "completed"


SCENARIOS = [
    ([("a", "generator", "pass"), ("b", "async generator", "pass"), ("c", "coroutine", ""), ("d", "plain", "")], Boom),
    ([("a", "generator", "pass"), ("b", "async generator", "pass")], None),
    ([("a", "generator", "pass"), ("b", "generator", "swallow"), ("c", "async generator", "pass")], Boom),
    ([("a", "async generator", "swallow"), ("b", "generator", "pass")], Boom),
    ([("a", "generator", "pass"), ("b", "async generator", "replace"), ("c", "generator", "pass")], Boom),
    ([("a", "generator", "replace"), ("b", "generator", "replace")], Boom),
]


@pytest.mark.parametrize(("hooks", "body_raises"), SCENARIOS)
async def test_a_phase_runs_its_hooks_as_strawberry_does(hooks: list[tuple[str, str, str]],
                                                         body_raises: type[Exception] | None) -> None:
    classes = [extension(*hook) for hook in hooks]
    outcomes = []
    for make in (lambda exts: OperationContextManager(exts), lambda exts: HookRunner(None, exts).operation()):  # type: ignore[arg-type]
        LOG.clear()
        outcome = await run_phase(make([cls() for cls in classes]), body_raises)
        outcomes.append((outcome, list(LOG)))
    assert outcomes[0] == outcomes[1]


async def test_a_hook_that_fails_to_enter_is_told_to_the_hooks_entered_before_it() -> None:
    class Refusing(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            LOG.append("refusing:enter")
            raise Boom("refused")
            yield

    LOG.clear()
    extensions = [extension("a", "async generator")(), extension("b", "generator")(), Refusing(),
                  extension("c", "generator")()]
    outcome = await run_phase(HookRunner(None, extensions).operation(), None)  # type: ignore[arg-type]
    assert outcome == "raised Boom: refused"
    assert LOG == ["a:enter", "b:enter", "refusing:enter", "b:saw Boom", "a:saw Boom"]


def test_a_phase_run_synchronously_refuses_async_hooks_and_runs_the_others() -> None:
    LOG.clear()
    runner = HookRunner(None, [extension("a", "generator")(), extension("b", "plain")()])  # type: ignore[arg-type]
    with runner.operation():
        LOG.append("body")
    assert LOG == ["a:enter", "b:called", "body", "a:leave"]
    LOG.clear()
    runner = HookRunner(None, [extension("a", "generator")(), extension("b", "coroutine")()])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="failed to complete synchronously"), runner.operation():
        LOG.append("body")
    assert LOG == ["a:enter", "a:saw RuntimeError"]


async def test_only_extensions_with_results_are_asked_for_them() -> None:
    class Reporting(SchemaExtension):
        def get_results(self) -> dict[str, object]:
            return {"reported": 1}

    @strawberry.type
    class Q:
        @strawberry.field
        def hello(self) -> str:
            return "hi"

    result = await GatewaySchema(query=Q, extensions=[Reporting, Recorder]).execute("{ hello }")
    assert result.data == {"hello": "hi"} and result.extensions == {"reported": 1}
