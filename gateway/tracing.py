"""Tracing on or off: what the gateway's parts trace with (a tracer, and the backend clients' call tracer). Off,
everything is a no-op of the OpenTelemetry API; on (CCGW_OTEL_ENDPOINT), gateway/otel.py sets up the SDK from the
`otel` extra."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from opentelemetry.trace import NoOpTracer, Tracer

from datasources.http import CallTracer
from gateway.settings import Settings


@dataclass(frozen=True)
class Tracing:
    """The tracer spans are started with, the backend clients' call tracer (None: backend calls are not traced),
    and how to flush and stop the exporter."""

    tracer: Tracer = field(default_factory=NoOpTracer)
    call_tracer: CallTracer | None = None
    shutdown: Callable[[], None] = lambda: None


def check_tracing(settings: Settings) -> None:
    """Refuse tracing settings that cannot work, before anything starts."""
    if settings.otel_endpoint:
        parts = urlsplit(settings.otel_endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SystemExit(f"CCGW_OTEL_ENDPOINT must be an http(s) URL (the collector's OTLP/HTTP endpoint, "
                             f"such as http://127.0.0.1:4318), not {settings.otel_endpoint!r}")
    if not 0.0 <= settings.otel_sample_ratio <= 1.0:
        raise SystemExit(f"CCGW_OTEL_SAMPLE_RATIO must be between 0 and 1, not {settings.otel_sample_ratio}")


def tracing_from(settings: Settings) -> Tracing:
    """Off without CCGW_OTEL_ENDPOINT; with it, spans exported over OTLP/HTTP in batches."""
    check_tracing(settings)
    if not settings.otel_endpoint:
        return Tracing()
    try:
        from gateway import otel
    except ImportError as exc:
        raise SystemExit(f"CCGW_OTEL_ENDPOINT is set but the tracing packages are missing ({exc.name}): install "
                         "the gateway with its `otel` extra (pip install 'ccgw[otel]'; `make install` does)") from None
    return otel.otlp_tracing(settings.otel_endpoint, service_name=settings.otel_service_name,
                             sample_ratio=settings.otel_sample_ratio)
