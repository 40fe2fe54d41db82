"""The gateway's Prometheus metrics: their names, labels and buckets, and what records them.

Naming: OpenTelemetry's semantic conventions translated to Prometheus (dots to underscores, the unit as a suffix,
`_total` on counters), as Apollo Router and Hive Gateway export them: `http_server_request_duration_seconds`
(`http.server.request.duration`), `http_client_request_duration_seconds` for backend calls
(`http.client.request.duration`); the GraphQL request and phase histograms after Hive Gateway's
`graphql_envelop_request_duration` and `graphql_envelop_phase_*`, with the OpenTelemetry GraphQL attribute names as
labels (`graphql_operation_type`, `graphql_operation_name`); what only ccgw has under `ccgw_`. The outbox's gauges are
read from the store at scrape time (gateway.metrics_endpoint).

Metrics live in prometheus_client's process-wide registry, as its counters do. With `PROMETHEUS_MULTIPROC_DIR` set
(before the process starts) every process writes its values there and a scrape of any one of them adds them up:
gauges take the most recent value of any process."""

from __future__ import annotations

import threading
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from datasources.instrument import (
    OBSERVERS,
    ApiBudget,
    BackendCall,
    BackendError,
    ChangesSeen,
    Event,
    MirrorFinished,
    PollDone,
    ReadRecalled,
)
from datasources.store.backlog import mirror_route
from schema.timing import ANONYMOUS, UNKNOWN, OperationRecord

# At most this many distinct operation names get their own series per process; later ones count as OTHER.
MAX_OPERATION_NAMES = 100
OTHER = "other"
# OpenTelemetry's advice for HTTP durations, up to 30 s (the default request deadline).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0)
PHASE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

HTTP_SERVER = Histogram("http_server_request_duration_seconds", "HTTP requests to the gateway, until answered",
                        ["http_request_method", "http_route", "http_response_status_code"],
                        buckets=DURATION_BUCKETS)
GRAPHQL_REQUEST = Histogram("graphql_request_duration_seconds", "GraphQL operations, parse to result",
                            ["graphql_operation_type", "graphql_operation_name", "outcome"],
                            buckets=DURATION_BUCKETS)
GRAPHQL_PHASE = Histogram("graphql_phase_duration_seconds", "Each phase of GraphQL operations (parse, validate, "
                          "execute)", ["phase", "graphql_operation_type", "graphql_operation_name"],
                          buckets=PHASE_BUCKETS)
BACKEND_CALL = Histogram("http_client_request_duration_seconds", "HTTP exchanges with the backends, retries each "
                         "counted", ["source", "operation", "http_response_status_code", "error_type"],
                         buckets=DURATION_BUCKETS)
BACKEND_ERRORS = Counter("ccgw_backend_errors", "Backend failures by kind", ["source", "error_type"])
SOURCE_UP = Gauge("ccgw_source_up", "1 when the source's last exchange got an answer below 500, else 0",
                  ["source"], multiprocess_mode="mostrecent")
API_BUDGET_REMAINING = Gauge("ccgw_api_budget_remaining", "API requests left in the window, as the backend last "
                             "said", ["source", "window"], multiprocess_mode="mostrecent")
API_BUDGET_LIMIT = Gauge("ccgw_api_budget_limit", "API requests allowed in the window", ["source", "window"],
                         multiprocess_mode="mostrecent")
DELIVERIES = Counter("ccgw_deliveries", "Delivery outcomes of mirrors", ["connection", "direction", "outcome"])
POLL_LAST_SUCCESS = Gauge("ccgw_poll_last_success_timestamp_seconds", "When the source was last polled "
                          "successfully (Unix time)", ["source"], multiprocess_mode="mostrecent")
POLL_LAG = Histogram("ccgw_poll_lag_seconds", "How long after a change in a source a poll found it", ["source"],
                     buckets=LAG_BUCKETS)
READ_CACHE = Counter("ccgw_read_cache_lookups", "A query's backend reads looked up among the answers kept across "
                     "requests (CCGW_READ_CACHE_S), by read and result (hit, miss)", ["read", "result"])
PERSISTED_QUERIES = Counter("ccgw_persisted_queries", "Requests naming a persisted query (APQ) by result: hit (ran "
                            "by its hash), miss (PERSISTED_QUERY_NOT_FOUND), registered (sent with its hash), "
                            "refused", ["result"])
RATE_LIMITED = Counter("ccgw_rate_limit_refusals", "Requests refused by the per-user rate limit (429)",
                       ["http_route"])


class OperationNames:
    """Operation names as label values: the first `limit` distinct ones as they are, later ones as `other`, so a
    client sending ever new names cannot grow the series without bound."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str) -> str:
        if name in (ANONYMOUS, UNKNOWN):
            return name
        with self._lock:
            if name in self._seen:
                return name
            if len(self._seen) < self.limit:
                self._seen.add(name)
                return name
        return OTHER


NAMES = OperationNames()


# (metric, label values) -> its child: prometheus_client's labels() takes a lock and checks the values each time, and
# a request records a dozen. The label sets are bounded (operation names by NAMES, sources by the connections).
_CHILDREN: dict[tuple[object, tuple[str, ...]], Any] = {}
CHILDREN_KEPT = 10_000


def child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, made once."""
    key = (metric, labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = metric.labels(*labels)
        if len(_CHILDREN) < CHILDREN_KEPT:
            _CHILDREN[key] = found
    return found


# A gauge child's value as last set here: a gauge that keeps its value (a source still up, an unchanged limit) is
# not set again on every backend call (each set takes a lock).
_LAST_SET: dict[Any, float] = {}


def set_gauge(gauge: Any, value: float) -> None:
    """`gauge.set(value)` (a labelled child), skipped when this module set it to that value last."""
    if _LAST_SET.get(gauge) == value:
        return
    gauge.set(value)
    if len(_LAST_SET) >= CHILDREN_KEPT:
        _LAST_SET.clear()  # set again on their next report: never stale, and bounded
    _LAST_SET[gauge] = value


def record_request(method: str, route: str, status: int, duration_s: float) -> None:
    child(HTTP_SERVER, method, route, str(status)).observe(duration_s)


def record_operation(record: OperationRecord, outcome: str) -> None:
    """One GraphQL operation: its duration by outcome, and each phase it went through."""
    name = NAMES.label(record.name)
    child(GRAPHQL_REQUEST, record.type, name, outcome).observe(record.duration_s)
    for phase, seconds in record.phases.items():
        child(GRAPHQL_PHASE, phase, record.type, name).observe(seconds)


def record_rate_limited(route: str) -> None:
    child(RATE_LIMITED, route).inc()


def record_persisted_query(result: str) -> None:
    child(PERSISTED_QUERIES, result).inc()


def observe(event: Event) -> None:
    """What the layers below report (datasources.instrument), as metrics."""
    if isinstance(event, BackendCall):
        status = "" if event.status is None else str(event.status)
        child(BACKEND_CALL, event.source, event.operation, status, event.error or "").observe(event.duration_s)
        set_gauge(child(SOURCE_UP, event.source), 1 if event.status is not None and event.status < 500 else 0)
    elif isinstance(event, BackendError):
        child(BACKEND_ERRORS, event.source, event.kind).inc()
    elif isinstance(event, ApiBudget):
        child(API_BUDGET_REMAINING, event.source, event.window).set(event.remaining)
        set_gauge(child(API_BUDGET_LIMIT, event.source, event.window), event.limit)
    elif isinstance(event, MirrorFinished):
        connection, direction = mirror_route(event.source_id, event.target)
        child(DELIVERIES, connection, direction, event.outcome).inc()
    elif isinstance(event, PollDone):
        child(POLL_LAST_SUCCESS, event.source).set(time.time())
    elif isinstance(event, ChangesSeen):
        for lag in event.lags_s:
            child(POLL_LAG, event.source).observe(lag)
    elif isinstance(event, ReadRecalled):
        child(READ_CACHE, event.read, "hit" if event.hit else "miss").inc()


def install() -> None:
    """Count what the datasources and resolvers report in this process (idempotent)."""
    OBSERVERS.add(observe)
