"""Schema extension hooks run around each phase by a plan made once per set of extension classes: strawberry looks up
every hook of every extension for each phase of each request, wraps each in a `contextlib` context manager and
enters them through an exit stack, a fixed cost of every operation however small."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.utils.await_maybe import await_maybe

PLAIN, COROUTINE, GENERATOR, ASYNC_GENERATOR = range(4)
# A phase's hooks, in the extensions' order: (the extension's index, its hook function, which of the kinds above).
Plan = tuple[tuple[int, Callable[..., Any], int], ...]
HOOKS = ("on_operation", "on_parse", "on_validate", "on_execute")
# The extensions' classes -> each phase's plan: one entry per schema, as a schema's extension classes are fixed.
_PLANS: dict[tuple[type, ...], dict[str, Plan]] = {}


def plans(classes: tuple[type[SchemaExtension], ...]) -> dict[str, Plan]:
    """For each phase, the hooks the extensions of these classes define (strawberry's default, which does nothing,
    left out)."""
    made = _PLANS.get(classes)
    if made is None:
        made = _PLANS[classes] = {name: _plan(name, classes) for name in HOOKS}
    return made


def _plan(hook_name: str, classes: tuple[type[SchemaExtension], ...]) -> Plan:
    default = getattr(SchemaExtension, hook_name)
    steps = []
    for index, cls in enumerate(classes):
        fn = getattr(cls, hook_name)
        if fn is not default:
            kind = (GENERATOR if inspect.isgeneratorfunction(fn) else
                    ASYNC_GENERATOR if inspect.isasyncgenfunction(fn) else
                    COROUTINE if inspect.iscoroutinefunction(fn) else PLAIN)
            steps.append((index, fn, kind))
    return tuple(steps)


class Phase:
    """The hooks of one phase as strawberry's runner runs them: entered in order, left in reverse, each told of an
    exception raised inside it, which it may replace; one it swallows is not told to the hooks outside it but still
    leaves the phase. A hook that fails to enter leaves the ones entered before it told of its exception."""

    __slots__ = ("_entered", "_extensions", "_hook_name", "_plan")

    def __init__(self, hook_name: str, plan: Plan, extensions: Sequence[SchemaExtension]) -> None:
        self._hook_name = hook_name
        self._plan = plan
        self._extensions = extensions
        self._entered: list[tuple[Any, bool]] = []  # the generators suspended at their yield, and which are async

    def __enter__(self) -> None:
        try:
            for index, fn, kind in self._plan:
                extension = self._extensions[index]
                if kind in (COROUTINE, ASYNC_GENERATOR):
                    raise RuntimeError(f"SchemaExtension hook {extension}.{self._hook_name} failed to complete "
                                       "synchronously.")
                self._enter_sync(fn(extension), kind)
        except BaseException as exc:
            self._leave_sync(exc)
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        return self._leave_sync(exc)

    async def __aenter__(self) -> None:
        try:
            for index, fn, kind in self._plan:
                made = fn(self._extensions[index])
                if kind == ASYNC_GENERATOR:
                    await made.__anext__()
                    self._entered.append((made, True))
                elif kind == COROUTINE:
                    await made
                else:
                    self._enter_sync(made, kind)
        except BaseException as exc:
            await self._leave(exc)
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        return await self._leave(exc)

    def _enter_sync(self, made: Any, kind: int) -> None:
        if kind == GENERATOR:
            try:
                next(made)
            except StopIteration:
                raise RuntimeError("generator didn't yield") from None
            self._entered.append((made, False))

    def _leave_sync(self, exc: BaseException | None) -> bool:
        pending = exc
        while self._entered:
            pending = _resumed(self._entered.pop()[0], pending)
        return _outcome(exc, pending)

    async def _leave(self, exc: BaseException | None) -> bool:
        pending = exc
        while self._entered:
            made, is_async = self._entered.pop()
            if is_async:
                pending = await _resumed_async(made, pending)
            else:
                pending = _resumed(made, pending)
        return _outcome(exc, pending)


def _resumed(generator: Any, pending: BaseException | None) -> BaseException | None:
    """Resume a hook after its yield, throwing `pending` into it; what is left to raise afterwards."""
    try:
        if pending is None:
            next(generator)
        else:
            generator.throw(pending)
    except StopIteration:
        return None  # finished; had an exception been thrown in, the hook swallowed it
    except BaseException as raised:  # noqa: BLE001 - the hook's own exception, or `pending` passing through
        return raised
    raise RuntimeError("generator didn't stop")


async def _resumed_async(generator: Any, pending: BaseException | None) -> BaseException | None:
    try:
        if pending is None:
            await generator.__anext__()
        else:
            await generator.athrow(pending)
    except StopAsyncIteration:
        return None
    except BaseException as raised:  # noqa: BLE001
        return raised
    raise RuntimeError("generator didn't stop")


def _outcome(exc: BaseException | None, pending: BaseException | None) -> bool:
    """Raises what a hook raised in place of `exc`; otherwise `exc` (if any) goes on."""
    if pending is not None and pending is not exc:
        raise pending
    return False


class HookRunner(SchemaExtensionsRunner):
    """strawberry's runner, with each phase's hooks run by a `Phase` and only the extensions that report results
    asked for them."""

    def __init__(self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None) -> None:
        super().__init__(execution_context, extensions)
        self._plans = plans(tuple(map(type, self.extensions)))

    def _phase(self, hook_name: str) -> Phase:
        return Phase(hook_name, self._plans[hook_name], self.extensions)

    def operation(self) -> Phase:  # type: ignore[override]
        return self._phase("on_operation")

    def parsing(self) -> Phase:  # type: ignore[override]
        return self._phase("on_parse")

    def validation(self) -> Phase:  # type: ignore[override]
        return self._phase("on_validate")

    def executing(self) -> Phase:  # type: ignore[override]
        return self._phase("on_execute")

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for extension in self.extensions:
            if type(extension).get_results is not SchemaExtension.get_results:
                data.update(await await_maybe(extension.get_results()))
        data.update(ctx.extensions_results)
        return data
