"""The OpenTelemetry SDK as the gateway sets it up (the `otel` extra): a tracer provider of its own (never the global
one, so that several gateways in one process trace apart), the sampling rule, and the backend clients' call tracer,
which makes a CLIENT span per call (OpenTelemetry's HTTP client conventions) and sends the W3C `traceparent` along.

Backend URLs carry queries (SOQL in the query string) and record ids in the path: a span keeps the origin and the path
with every segment that is not an API word masked, and never the query."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import yarl
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceState, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from gateway.tracing import Tracing

SOURCE_ATTRIBUTE = "ccgw.source"
_W3C = TraceContextTextMapPropagator()
MASK = "{id}"
# A path segment kept as it is: an API version (v26.1), a word of letters and underscores (vobjects, sobjects,
# person__sys) or of lower-case letters and one digit (oauth2), or a custom API name, which ends in a `__` suffix
# (Call2_vod__c). Everything else (record ids, external ids, query locators) is masked.
_API_WORD = re.compile(r"v\d+(?:\.\d+)*|[A-Za-z]+(?:_+[A-Za-z]+)*_*|[a-z]+\d|[A-Za-z][A-Za-z0-9_]*__[A-Za-z]+")


def url_template(url: yarl.URL) -> str:
    """The path of a backend URL with its values masked: `/api/v26.1/vobjects/person__v/{id}`."""
    segments = url.raw_path.split("/")
    return "/".join(s if not s or _API_WORD.fullmatch(s) else MASK for s in segments) or "/"


def masked_url(url: yarl.URL) -> str:
    """What a span records of a backend URL: origin and masked path, no query, no credentials."""
    return f"{url.scheme}://{url.host}:{url.port}{url_template(url)}"


class OwnRoots(Sampler):
    """Traces start where the gateway starts them (a GraphQL request, a delivery, a poll), sampled by `root`: a
    backend call or a store transaction outside all of those (a readiness probe, the worker's idle claims) starts
    none. Within a trace, the parent's decision holds (ParentBased)."""

    def __init__(self, root: Sampler) -> None:
        self._root = root

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str, kind: SpanKind | None = None,
                      attributes: Attributes = None, links: Sequence[Link] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self._root.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"OwnRoots{{{self._root.get_description()}}}"


def tracer_provider(exporter: SpanExporter, *, service_name: str = "ccgw", sample_ratio: float = 1.0,
                    batch: bool = True) -> TracerProvider:
    """A provider exporting to `exporter`, in batches from a background thread (or each span as it ends)."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}),
                              sampler=ParentBased(root=OwnRoots(TraceIdRatioBased(sample_ratio))))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return provider


class CallSpans:
    """The backend clients' call tracer (datasources.http.CallTracer): a CLIENT span per HTTP call, named
    `{method} {url template}`, with the source's name; the W3C trace context injected into the call's headers
    (outside a recorded trace too, unsampled, as a backend may log it)."""

    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer("ccgw.backends")

    def begin(self, source: str, method: str, url: str, headers: dict[str, str]
              ) -> Callable[[int | None, str | None], None]:
        parsed = yarl.URL(url, encoded=True)
        template = url_template(parsed)
        span = self._tracer.start_span(f"{method} {template}", kind=SpanKind.CLIENT, attributes={
            "http.request.method": method, "url.full": masked_url(parsed), "url.template": template,
            "server.address": parsed.host or "", "server.port": parsed.port or 0, SOURCE_ATTRIBUTE: source})
        _W3C.inject(headers, context=set_span_in_context(span))

        def finish(status: int | None, error: str | None) -> None:
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if error is not None or (status is not None and status >= 400):
                span.set_attribute("error.type", str(status) if error is None else error)
                span.set_status(Status(StatusCode.ERROR))
            span.end()

        return finish


def tracing(provider: TracerProvider) -> Tracing:
    """Tracing into `provider`: the gateway's tracer, the backend calls' tracer, and the provider's shutdown."""
    return Tracing(provider.get_tracer("ccgw"), CallSpans(provider), provider.shutdown)


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector endpoint given as its base URL (or already as the traces URL)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def otlp_tracing(endpoint: str, *, service_name: str, sample_ratio: float) -> Tracing:
    """Spans exported over OTLP/HTTP (protobuf) to the collector at `endpoint`; its headers, certificates and
    timeout come from the standard OTEL_EXPORTER_OTLP_* variables."""
    exporter = OTLPSpanExporter(endpoint=traces_url(endpoint))
    return tracing(tracer_provider(exporter, service_name=service_name, sample_ratio=sample_ratio))
