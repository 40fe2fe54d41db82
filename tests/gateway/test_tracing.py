"""Tracing (CCGW_OTEL_ENDPOINT): a span per GraphQL operation after the OpenTelemetry GraphQL conventions, a span per
backend call and store transaction as its children, W3C traceparent sent to the backends, the worker's deliveries as
their own traces linked to the request that planned them, and no argument value or result in any span.

The gateway under test exports to an in-memory exporter; it has a database of its own, so that its worker (not the
session gateway's) delivers what it plans."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from graphql import parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from yarl import URL

from datasources.errors import SourceUnavailable
from datasources.http import Auth, Credential, HttpBackend, HttpSettings, Replies, Reply
from emulators.server import EmulatorServer
from gateway import otel
from gateway.settings import Settings
from gateway.tracing import Tracing, tracing_from
from schema.tracing import without_literals
from tests.conftest import ADMIN, Gateway, Stack, VaultApi, global_id, set_knobs
from tests.writes.conftest import wait_until

PERSON = "0PE000000000003"  # matched in both orgs
SITE = "0SI000000000001"


# -- the document without its literals -------------------------------------------------------------------------

def test_the_document_keeps_its_shape_and_loses_its_literals() -> None:
    document = parse('''query Find($q: String = "Ada Lovelace", $n: Int = 7) @cached(ttl: 30) {
      # a comment naming someone
      people(search: "O'Brien", first: 5) { edges { node { id firstName } } }
      person(id: "UGVyc29uOjBQRTAwMDAwMDAwMDAwMw") { timeline(first: 2, filter: { statuses: [COMPLETED] }) {
        edges { node { date } } } }
      studies(search: """Onco
      Trial""", first: 2.5) { edges { node { id } } }
      x: people(search: $q, first: $n) { edges { cursor } }
      y: people(search: null) { edges { cursor } }
      z: person(id: "A") @include(if: true) { id }
    }''')
    text = without_literals(document)
    for value in ("Ada Lovelace", "O'Brien", "UGVyc29u", "Onco", "Trial", "7", "30", "5", "2.5", "comment",
                  "someone"):
        assert value not in text, value
    assert 'search: "?", first: 0' in text
    assert 'id: "?"' in text and "first: 0, filter: { statuses: [COMPLETED] }" in text
    assert '$q: String = "?", $n: Int = 0' in text and "@cached(ttl: 0)" in text
    assert "search: $q, first: $n" in text and "search: null" in text and "@include(if: true)" in text
    assert parse(text)  # still a document


# -- backend URLs -----------------------------------------------------------------------------------------------

def test_backend_urls_keep_api_words_and_mask_values_and_queries() -> None:
    cases = {
        "http://127.0.0.1:8101/api/v26.1/vobjects/person__sys/0PE000000000003":
            "http://127.0.0.1:8101/api/v26.1/vobjects/person__sys/{id}",
        "http://127.0.0.1:8201/services/data/v66.0/query?q=SELECT+Id+FROM+Account+WHERE+Name+%3D+%27Ada%27":
            "http://127.0.0.1:8201/services/data/v66.0/query",
        "https://acme.my.salesforce.com/services/data/v66.0/sobjects/Call2_vod__c/Marker__c/4f1c2e9ab0":
            "https://acme.my.salesforce.com:443/services/data/v66.0/sobjects/Call2_vod__c/Marker__c/{id}",
        "http://user:secret@127.0.0.1:8201/services/data/v66.0/query/01gD0000000001-2000":
            "http://127.0.0.1:8201/services/data/v66.0/query/{id}",
        "http://127.0.0.1:8201/services/oauth2/token": "http://127.0.0.1:8201/services/oauth2/token",
        "http://127.0.0.1:8201/services/data/v66.0/sobjects/Account/a0B5g00000XyZabEAF":
            "http://127.0.0.1:8201/services/data/v66.0/sobjects/Account/{id}",
        "http://127.0.0.1:8201/services/data/v66.0/sobjects/Account/O%27Brien-7":
            "http://127.0.0.1:8201/services/data/v66.0/sobjects/Account/{id}",
    }
    for url, masked in cases.items():
        assert otel.masked_url(URL(url, encoded=True)) == masked


# -- settings -------------------------------------------------------------------------------------------------

def test_tracing_is_off_without_an_endpoint_and_refuses_what_cannot_work(monkeypatch: pytest.MonkeyPatch) -> None:
    off = tracing_from(Settings())
    assert off.call_tracer is None and not off.tracer.start_span("x").is_recording()
    for bad in ("collector:4318", "ftp://collector", "http://"):
        with pytest.raises(SystemExit, match="CCGW_OTEL_ENDPOINT must be an http"):
            tracing_from(Settings(otel_endpoint=bad))
    with pytest.raises(SystemExit, match="CCGW_OTEL_SAMPLE_RATIO"):
        tracing_from(Settings(otel_endpoint="http://127.0.0.1:4318", otel_sample_ratio=2))
    # Without the `otel` extra, the setting is refused with what to install (the API alone is a dependency).
    monkeypatch.delitem(sys.modules, "gateway.otel")
    monkeypatch.delattr("gateway.otel")
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(SystemExit, match=r"otel. extra"):
        tracing_from(Settings(otel_endpoint="http://127.0.0.1:4318"))


def _collector() -> tuple[EmulatorServer, list[tuple[str, str, bytes]]]:
    """A stand-in OTLP/HTTP collector on loopback that keeps what it receives."""
    received: list[tuple[str, str, bytes]] = []

    async def traces(request: Request) -> Response:
        received.append((request.url.path, request.headers.get("content-type", ""), await request.body()))
        return Response(b"", media_type="application/x-protobuf")

    return EmulatorServer(Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])).start(), received


def test_spans_reach_the_otlp_endpoint_the_setting_names() -> None:
    collector, received = _collector()
    try:
        tracing = tracing_from(Settings(otel_endpoint=collector.url, otel_service_name="ccgw-test"))
        with tracing.tracer.start_as_current_span("query Timeline", kind=SpanKind.SERVER):
            pass
        tracing.shutdown()  # flushes the batch
    finally:
        collector.stop()
    assert received and received[0][0] == "/v1/traces" and received[0][1] == "application/x-protobuf"
    export = ExportTraceServiceRequest.FromString(received[0][2])
    resource = export.resource_spans[0].resource
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == "ccgw-test"
    assert [s.name for s in export.resource_spans[0].scope_spans[0].spans] == ["query Timeline"]


# -- a backend call: a client span, and the traceparent sent along --------------------------------------------

class _NoAuth(Auth):
    async def log_in(self, http: HttpBackend) -> Credential:
        return Credential("none")

    def headers(self, credential: Credential) -> dict[str, str]:
        return {}


class _Plain(Replies):
    def expired(self, reply: Reply) -> bool:
        return False

    def refusal(self, reply: Reply, source: str) -> None:
        return None

    def page(self, body: object) -> tuple[list[dict], str | None]:
        return [], None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_backend_call_is_a_child_span_and_sends_its_traceparent() -> None:
    seen: list[dict[str, str]] = []

    async def record(request: Request) -> Response:
        seen.append(dict(request.headers))
        return JSONResponse({})

    server = EmulatorServer(Starlette(routes=[Route("/{path:path}", record, methods=["GET"])])).start()
    exporter = InMemorySpanExporter()
    provider = otel.tracer_provider(exporter, batch=False)
    tracing = otel.tracing(provider)
    backend = HttpBackend("crm:test", server.url, HttpSettings(retries=0, call_tracer=tracing.call_tracer),
                          auth=_NoAuth(), replies=_Plain())
    try:
        with tracing.tracer.start_as_current_span("mutation Create", kind=SpanKind.SERVER) as request_span:
            await backend.call("GET", "/services/data/v66.0/sobjects/Account/001000000000042AAA",
                               params={"q": "SELECT Id FROM Account WHERE Name = 'Chloé'"})
        await backend.call("GET", "/services/data/v66.0/limits")  # outside any trace
    finally:
        await backend.close()
        server.stop()
        provider.shutdown()
    client = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(client) == 1
    span = client[0]
    assert span.parent is not None and span.parent.span_id == request_span.get_span_context().span_id
    assert span.name == "GET /services/data/v66.0/sobjects/Account/{id}"
    assert span.attributes["ccgw.source"] == "crm:test"
    assert span.attributes["http.request.method"] == "GET" and span.attributes["http.response.status_code"] == 200
    assert span.attributes["url.full"] == f"{server.url}/services/data/v66.0/sobjects/Account/{{id}}"
    assert "Chloé" not in str(dict(span.attributes)) and "001000000000042AAA" not in str(dict(span.attributes))
    ctx = span.get_span_context()
    version, trace_id, parent_id, flags = seen[0]["traceparent"].split("-")
    assert (version, trace_id, parent_id) == ("00", f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    assert int(flags, 16) & 1  # sampled
    assert not int(seen[1]["traceparent"].split("-")[3], 16) & 1  # outside a trace: not sampled, not exported


@pytest.mark.anyio
async def test_a_failed_backend_call_is_an_error_span_with_its_kind() -> None:
    async def refuse(request: Request) -> Response:
        return JSONResponse({}, status_code=503)

    server = EmulatorServer(Starlette(routes=[Route("/{path:path}", refuse, methods=["GET"])])).start()
    closed = EmulatorServer(Starlette()).start()
    closed.stop()  # nothing listens there any more
    exporter = InMemorySpanExporter()
    provider = otel.tracer_provider(exporter, batch=False)
    tracing = otel.tracing(provider)
    settings = HttpSettings(retries=0, call_tracer=tracing.call_tracer)
    busy = HttpBackend("crm:test", server.url, settings, auth=_NoAuth(), replies=_Plain())
    gone = HttpBackend("crm:gone", closed.url, settings, auth=_NoAuth(), replies=_Plain())
    try:
        with tracing.tracer.start_as_current_span("query Timeline", kind=SpanKind.SERVER):
            with pytest.raises(SourceUnavailable):
                await busy.call("GET", "/services/data/v66.0/limits")
            with pytest.raises(SourceUnavailable):
                await gone.call("GET", "/services/data/v66.0/limits")
    finally:
        await busy.close()
        await gone.close()
        server.stop()
        provider.shutdown()
    spans = {s.attributes["ccgw.source"]: s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT}
    assert spans["crm:test"].attributes["error.type"] == "503" and not spans["crm:test"].status.is_ok
    assert spans["crm:test"].attributes["http.response.status_code"] == 503
    assert spans["crm:gone"].attributes["error.type"] == "unreachable" and not spans["crm:gone"].status.is_ok
    assert "http.response.status_code" not in spans["crm:gone"].attributes


# -- a store transaction --------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_store_transaction_is_a_span_and_a_failure_records_its_type_only(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from datasources.store.db import create_engine, migrate
    from datasources.store.repo import Store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    await asyncio.to_thread(migrate, url)
    exporter = InMemorySpanExporter()
    provider = otel.tracer_provider(exporter, batch=False)
    tracer = provider.get_tracer("test")
    store = Store(create_engine(url), tracer)
    insert = text("INSERT INTO sync_mark (source, mark, updated_at) VALUES (:source, :mark, CURRENT_TIMESTAMP)")
    try:
        with tracer.start_as_current_span("mutation Create", kind=SpanKind.SERVER) as request_span:
            await store.set_mark("crm:us:calls", "2026-01-01T00:00:00.000+0000")
            with pytest.raises(IntegrityError, match="Chloé"):  # SQLAlchemy's text quotes the parameters
                async with store.session() as session:
                    for _ in range(2):
                        await session.execute(insert, {"source": "Chloé O'Brien", "mark": "x"})
        await store.mark("outside any trace")
    finally:
        await store.engine.dispose()
        provider.shutdown()
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("store ")]
    assert [s.name for s in spans] == ["store set_mark",
                                       "store test_a_store_transaction_is_a_span_and_a_failure_records_its_type_only"]
    assert all(s.parent.span_id == request_span.get_span_context().span_id and s.kind is SpanKind.CLIENT
               and s.attributes["db.system.name"] == "sqlite" for s in spans)
    failed = spans[1]
    assert failed.status.is_ok is False and failed.status.description is None
    assert failed.attributes["error.type"] == "IntegrityError" and not failed.events
    assert "Chloé" not in str(dict(failed.attributes))


# -- the gateway end to end -------------------------------------------------------------------------------------

@dataclass
class Traced:
    gateway: Gateway
    exporter: InMemorySpanExporter

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def operation(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def trace_of(self, span: ReadableSpan) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.context.trace_id == span.context.trace_id]


@pytest.fixture(scope="module")
def traced(stack: Stack) -> Iterator[Traced]:
    from gateway.app import create_app
    from gateway.demo import configure

    exporter = InMemorySpanExporter()
    provider = otel.tracer_provider(exporter, batch=False)
    database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ccgw-tracing-')) / 'gateway.db'}"
    configure(database_url, stack.orgs)
    settings = replace(stack.settings, database_url=database_url, poll_interval_s=0.0)
    gateway = Gateway(EmulatorServer(create_app(settings, tracing=otel.tracing(provider))).start(), settings,
                      stack.token(ADMIN))
    try:
        yield Traced(gateway, exporter)
    finally:
        gateway.stop()
        provider.shutdown()


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _under(spans: list[ReadableSpan], span: ReadableSpan, ancestor: ReadableSpan) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    while span.parent is not None:
        if span.parent.span_id == ancestor.context.span_id:
            return True
        span = by_id[span.parent.span_id]
    return False


def _person() -> dict:
    from emulators.seed import build_world

    return next(p for p in build_world(40).ctms["person__sys"] if p["id"] == PERSON)


def _timeline_query(person_gid: str, search: str) -> str:
    return f"""query Timeline {{
      person(id: "{person_gid}") {{ firstName lastName
        timeline(first: 5) {{ edges {{ node {{ __typename date subject owner sync {{ state }} }} }} }} }}
      people(search: "{search}", first: 3) {{ edges {{ node {{ id firstName lastName email }} }} }}
    }}"""


def _create_mutation(person_gid: str, subject: str, key: str) -> str:
    day = (date.today() - timedelta(days=1)).isoformat()
    return f"""mutation Create {{ createClinicalActivity(input: {{
      personId: "{person_gid}", context: {{ studySiteId: "{global_id('StudySite', SITE)}" }}, date: "{day}",
      channel: PHONE, completed: true, subject: "{subject}", idempotencyKey: "{key}" }}) {{
      activity {{ id ctmsId subject sync {{ connection {{ name }} state }} }} userErrors {{ code }} }} }}"""


def test_a_timeline_request_is_one_span_with_its_backend_calls_and_store_transactions_as_children(
        traced: Traced) -> None:
    person = _person()
    body = traced.gateway.gql(_timeline_query(global_id("Person", PERSON), person["last_name__sys"]))
    assert "errors" not in body, body
    assert body["data"]["person"]["timeline"]["edges"], "the person has a timeline"

    request = traced.operation("query Timeline")
    assert request.kind is SpanKind.SERVER and request.parent is None
    assert request.attributes["graphql.operation.type"] == "query"
    assert request.attributes["graphql.operation.name"] == "Timeline"
    document = request.attributes["graphql.document"]
    assert 'person(id: "?")' in document and 'people(search: "?", first: 0)' in document
    spans = traced.trace_of(request)
    backend = [s for s in spans if s.kind is SpanKind.CLIENT and "ccgw.source" in s.attributes]
    assert {s.attributes["ccgw.source"] for s in backend} >= {"ctms", "crm:us", "crm:eu"}
    assert all(s.parent.span_id == request.context.span_id for s in backend)
    assert any(s.name == "POST /api/v26.1/query" for s in backend)
    store = [s for s in spans if s.name.startswith("store ")]
    assert store and all(s.parent.span_id == request.context.span_id for s in store)
    assert {s.attributes["db.system.name"] for s in store} == {"sqlite"}


def test_a_request_continues_the_callers_trace(traced: Traced) -> None:
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    body = traced.gateway.gql("query Viewer { viewer { name } }",
                              headers={"Accept": "application/json", "traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert "errors" not in body, body
    request = traced.operation("query Viewer")
    assert f"{request.context.trace_id:032x}" == trace_id and f"{request.parent.span_id:016x}" == parent_id


def test_a_failed_operation_is_an_error_span_with_the_code_and_never_the_message(traced: Traced) -> None:
    body = traced.gateway.gql('query Broken { person(id: "not a person id at all") { firstName } }')
    assert body["errors"][0]["extensions"]["code"]
    span = traced.operation("query Broken")
    assert span.status.is_ok is False and span.status.description is None
    assert span.attributes["error.type"] == body["errors"][0]["extensions"]["code"]
    assert "not a person id" not in str(dict(span.attributes))


@pytest.mark.slow  # waits for real time to pass (the worker's retry after the backoff)
def test_a_create_is_traced_and_its_delivery_by_the_worker_is_a_trace_linked_to_it(
        traced: Traced, stack: Stack, knobs: Callable[..., dict]) -> None:
    subject = f"Enrollment update {uuid.uuid4().hex[:8]}"
    knobs(stack.orgs["us"], outage="503")  # the inline delivery to us fails: the worker delivers it later
    body = traced.gateway.gql(_create_mutation(global_id("Person", PERSON), subject, f"k-{uuid.uuid4().hex}"))
    payload = body["data"]["createClinicalActivity"]
    assert not payload["userErrors"], payload
    states = {s["connection"]["name"]: s["state"] for s in payload["activity"]["sync"]}
    assert states["us"] == "PENDING"
    set_knobs(stack.orgs["us"], outage=None)

    create = traced.operation("mutation Create")
    assert create.attributes["graphql.operation.type"] == "mutation"
    assert 'subject: "?"' in create.attributes["graphql.document"]
    spans = traced.trace_of(create)
    backend = [s for s in spans if s.kind is SpanKind.CLIENT and "ccgw.source" in s.attributes]
    writes = [s for s in backend if s.name.startswith("POST /api/v26.1/vobjects/")]  # the CTMS write
    assert writes and all(s.parent.span_id == create.context.span_id for s in writes)
    assert all(_under(spans, s, create) for s in backend)
    inline = [s for s in spans if s.name == "deliver us"]
    assert inline and _children(spans, create) and inline[0].parent.span_id == create.context.span_id

    def delivered() -> ReadableSpan | None:
        for span in traced.spans():
            if span.name == "deliver mirrors" and any(
                    link.context.trace_id == create.context.trace_id for link in span.links):
                deliveries = [s for s in traced.trace_of(span) if s.name == "deliver us"]
                return span if deliveries else None
        return None

    root = wait_until(delivered, timeout=20, what="the worker's delivery to us")
    assert root.parent is None and root.kind is SpanKind.CONSUMER
    assert root.context.trace_id != create.context.trace_id
    assert any(link.context.span_id == create.context.span_id for link in root.links)
    delivery = traced.trace_of(root)
    assert any(s.attributes.get("ccgw.source") == "crm:us" for s in delivery if s.kind is SpanKind.CLIENT)


def test_a_poll_is_a_trace_and_the_deliveries_it_planned_link_to_it(stack: Stack, ctms_api: VaultApi) -> None:
    from gateway.demo import configure

    database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ccgw-tracing-poll-')) / 'gateway.db'}"
    configure(database_url, stack.orgs)
    since = datetime.now(UTC) - timedelta(seconds=2)
    [ctms_id] = ctms_api.write("crm_activity__v", [{  # written behind the gateway's back: the poll finds it
        "object_type__v.api_name__v": "clinical_activity__v", "person__v": PERSON, "site__v": SITE,
        "activity_date__v": (date.today() - timedelta(days=3)).isoformat(), "channel__v": "phone__v",
        "completed__v": True, "subject__v": "direct in CTMS", "owner__v": "Rory Williams (rory@ctms.example.com)"}])
    exporter = InMemorySpanExporter()
    provider = otel.tracer_provider(exporter, batch=False)
    assert asyncio.run(_poll_and_deliver(replace(stack.settings, database_url=database_url), otel.tracing(provider),
                                         since)) >= 1
    provider.shutdown()
    spans = exporter.get_finished_spans()
    [poll] = [s for s in spans if s.name == "poll"]
    assert poll.parent is None
    polled = [s for s in spans if s.context.trace_id == poll.context.trace_id and s.kind is SpanKind.CLIENT]
    assert any(s.attributes.get("ccgw.source") == "ctms" for s in polled)
    deliveries = [s for s in spans if s.name == "deliver mirrors"]
    assert deliveries and all(s.parent is None and s.context.trace_id != poll.context.trace_id for s in deliveries)
    assert any(link.context.span_id == poll.context.span_id for s in deliveries for link in s.links)
    assert ctms_id not in str([dict(s.attributes) for s in spans])


async def _poll_and_deliver(settings: Settings, tracing: Tracing, since: datetime) -> int:
    """One polling cycle from `since` (the seeded history is not this test's business), then every delivery due."""
    from gateway.app import build_services
    from resolvers import delivery, polling

    services = build_services(settings, tracing=tracing)
    try:
        await services.store.set_mark("ctms:activities", since.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for org in ("us", "eu"):
            await services.store.set_mark(f"crm:{org}:calls", since.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
        planned = await polling.poll_once(services)
        while await delivery.deliver_due(services, worker="test") > 0:
            pass
        return planned
    finally:
        await services.backends.close()
        await services.store.engine.dispose()


def test_no_argument_value_or_result_is_in_any_span(traced: Traced) -> None:
    """Every span this module's gateway made is scanned (the other tests' too, when they ran before)."""
    person = _person()
    search = person["last_name__sys"]
    subject = f"Consent withdrawn by {uuid.uuid4().hex[:8]}"
    gid = global_id("Person", PERSON)
    assert "errors" not in traced.gateway.gql(_timeline_query(gid, search))
    body = traced.gateway.gql(_create_mutation(gid, subject, f"k-{uuid.uuid4().hex}"))
    assert not body["data"]["createClinicalActivity"]["userErrors"], body
    wait_until(lambda: any(s.name == "deliver us" for s in traced.spans()), what="a delivery span")
    secret = [gid, PERSON, search, subject, person["first_name__sys"], person["email__sys"]]
    texts = []
    for span in traced.spans():
        texts += [span.name, *map(str, span.attributes.values()), str(span.status.description or "")]
        for event in span.events:
            texts += [event.name, *map(str, event.attributes.values())]
        for link in span.links:
            texts += list(map(str, (link.attributes or {}).values()))
    assert len(texts) > 50
    leaks = {value for value in secret for text in texts if value in text}
    assert not leaks, leaks


def test_spans_of_a_gateway_without_tracing_go_nowhere() -> None:
    """The session gateway runs untraced: the OpenTelemetry API's no-op tracer, no trace configs."""
    assert asyncio.run(_untraced_services_work())


async def _untraced_services_work() -> bool:
    from gateway.app import build_services

    services = build_services(Settings(database_url="sqlite://", ctms_url="http://127.0.0.1:9"))
    try:
        async with services.store.session() as session:
            assert session is not None
        return not services.tracer.start_span("x").is_recording()
    finally:
        await services.backends.close()
        await services.store.engine.dispose()
