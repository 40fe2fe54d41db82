"""What an operation was and how it went, phase by phase: kept in the HTTP request's state for the gateway's metrics and
request log line (the gateway reads it once the answer is sent; nothing here counts or logs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import get_operation_ast
from strawberry.extensions import SchemaExtension

# The key of the request state (`request.state`) the record is kept under.
STATE_KEY = "graphql_operation"
ANONYMOUS = "anonymous"
UNKNOWN = "unknown"


@dataclass
class OperationRecord:
    """One GraphQL operation: its type and name once parsed, each phase's seconds, and its outcome: `success` (no
    errors), `partial` (data and errors) or `error` (errors and no data)."""

    type: str = UNKNOWN
    name: str = UNKNOWN
    phases: dict[str, float] = field(default_factory=dict)
    duration_s: float = 0.0
    outcome: str | None = None
    # The distinct `extensions.code` of its errors, in order (a few at most).
    codes: list[str] = field(default_factory=list)


class OperationTiming(SchemaExtension):
    """Times parse, validate and execute and notes the operation; first among the extensions, so its end sees the
    errors as the others left them (shaped, with their codes). Strawberry makes one instance per operation."""

    record: OperationRecord | None = None
    # The phase under way and when it started: a phase whose hook strawberry never closes (a syntax error raised
    # while another extension's on_parse is entered leaves the others suspended) ends with the operation.
    _open: tuple[str, float] | None = None

    def on_operation(self) -> Iterator[None]:
        record = self.record = OperationRecord()
        state = self._state()
        if state is not None:
            state[STATE_KEY] = record
        started = time.perf_counter()
        try:
            yield
        finally:
            record.duration_s = time.perf_counter() - started
            if self._open is not None:
                record.phases.setdefault(self._open[0], time.perf_counter() - self._open[1])
            self._note_operation(record)
            ec = self.execution_context
            errors = list((ec.result.errors if ec.result is not None else ec.pre_execution_errors) or [])
            if ec.result is not None or errors:
                data = ec.result.data if ec.result is not None else None
                record.outcome = "success" if not errors else "partial" if data else "error"
                codes = [str((e.extensions or {}).get("code", "")) for e in errors]
                record.codes = list(dict.fromkeys(c for c in codes if c))[:5]

    def on_parse(self) -> Iterator[None]:
        yield from self._timed("parse")

    def on_validate(self) -> Iterator[None]:
        yield from self._timed("validate")

    def on_execute(self) -> Iterator[None]:
        yield from self._timed("execute")

    def _timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        self._open = (phase, started)
        try:
            yield
        finally:
            self._open = None
            if self.record is not None:
                self.record.phases.setdefault(phase, time.perf_counter() - started)
                self._note_operation(self.record)

    def _note_operation(self, record: OperationRecord) -> None:
        ec = self.execution_context
        if record.type != UNKNOWN or ec.graphql_document is None:
            return
        operation = get_operation_ast(ec.graphql_document, ec.operation_name)
        if operation is not None:
            record.type = operation.operation.value
            record.name = operation.name.value if operation.name else ANONYMOUS

    def _state(self) -> dict | None:
        context = self.execution_context.context
        request = context.get("request") if isinstance(context, dict) else None
        state = getattr(request, "scope", {}).get("state") if request is not None else None
        return state if isinstance(state, dict) else None
