"""The W3C trace context of the span that planned a change: kept with its outbox row, read back as a span link by the
delivery that carries the change out (in its own trace); and how a failure is recorded on a span."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import trace
from opentelemetry.trace import Link, Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT_CHARS = 55  # "00-" + 32 hex trace id + "-" + 16 hex span id + "-" + 2 hex flags
# A delivery batch links to at most this many planning spans (the SDK's default cap on links is 128).
MAX_LINKS = 64

_W3C = TraceContextTextMapPropagator()


def current_trace_parent() -> str | None:
    """The `traceparent` of the span current here; None outside any recorded trace."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def links_to(trace_parents: Iterable[str | None], limit: int = MAX_LINKS) -> list[Link]:
    """Links to the distinct valid spans named, in order, at most `limit` of them."""
    links: list[Link] = []
    seen: set[str] = set()
    for value in trace_parents:
        if not value or value in seen or len(links) >= limit:
            continue
        seen.add(value)
        span_context = trace.get_current_span(_W3C.extract({"traceparent": value})).get_span_context()
        if span_context.is_valid:
            links.append(Link(span_context))
    return links


def mark_failed(span: Span, exc: BaseException) -> None:
    """A span's failure, by the error's type only (its message can quote a statement's parameters or a backend's
    text)."""
    span.set_attribute("error.type", type(exc).__qualname__)
    span.set_status(Status(StatusCode.ERROR))
