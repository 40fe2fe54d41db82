"""Schema extension hooks made into context managers once per hook, not once per request: strawberry wraps every
generator hook of every extension anew for each phase of each request (`contextlib.contextmanager`, which copies
the function's metadata), a fixed cost of every operation however small."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# hook function -> (its context manager factory, whether it is async)
_MADE: dict[Callable[..., Any], tuple[Callable[..., Any], bool]] = {}


def _made_once(base: type[ExtensionContextManagerBase]) -> type[ExtensionContextManagerBase]:
    class Phase(base):  # type: ignore[valid-type, misc]
        def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
            fn = getattr(type(extension), self.HOOK_NAME)
            made = _MADE.get(fn)
            if made is None:
                if fn is self.default_hook:
                    return None
                if inspect.isgeneratorfunction(fn):
                    made = _MADE[fn] = (contextlib.contextmanager(fn), False)
                elif inspect.isasyncgenfunction(fn):
                    made = _MADE[fn] = (contextlib.asynccontextmanager(fn), True)
                else:  # a plain function: strawberry's own wrapping
                    return super().get_hook(extension)
            factory, is_async = made
            return WrappedHook(extension=extension, hook=functools.partial(factory, extension), is_async=is_async)

    Phase.__name__ = Phase.__qualname__ = base.__name__
    return Phase


_OPERATION = _made_once(OperationContextManager)
_PARSING = _made_once(ParsingContextManager)
_VALIDATION = _made_once(ValidationContextManager)
_EXECUTING = _made_once(ExecutingContextManager)


class HookRunner(SchemaExtensionsRunner):
    """strawberry's runner, with each phase's hooks made once (`_made_once`)."""

    def operation(self) -> OperationContextManager:
        return _OPERATION(self.extensions)  # type: ignore[return-value]

    def parsing(self) -> ParsingContextManager:
        return _PARSING(self.extensions)  # type: ignore[return-value]

    def validation(self) -> ValidationContextManager:
        return _VALIDATION(self.extensions)  # type: ignore[return-value]

    def executing(self) -> ExecutingContextManager:
        return _EXECUTING(self.extensions)  # type: ignore[return-value]
