"""Spans of the work the gateway does on its own (the worker's deliveries and polls): each its own trace, linked to the
spans that planned it. A failure is recorded by its type only: exception texts can quote SQL parameters or data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.util.types import Attributes

from datasources.trace_context import mark_failed


@contextlib.contextmanager
def own_trace(tracer: Tracer, name: str, *, kind: SpanKind = SpanKind.INTERNAL, links: Sequence[Link] = (),
              attributes: Attributes = None) -> Iterator[Span]:
    """A span starting a new trace whatever span is current here, current inside the block."""
    with traced(tracer, name, kind=kind, links=links, attributes=attributes, context=Context()) as span:
        yield span


@contextlib.contextmanager
def traced(tracer: Tracer, name: str, *, kind: SpanKind = SpanKind.INTERNAL, links: Sequence[Link] = (),
           attributes: Attributes = None, context: Context | None = None) -> Iterator[Span]:
    """A span, a child of the current one unless `context` says otherwise, current inside the block."""
    with tracer.start_as_current_span(name, context=context, kind=kind, links=links, attributes=attributes,
                                      record_exception=False, set_status_on_exception=False) as span:
        try:
            yield span
        except BaseException as exc:
            mark_failed(span, exc)
            raise
