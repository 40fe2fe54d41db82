"""`/metrics` in the Prometheus text format, for a CONNECTION_ADMIN token; or, with `metrics_bind`, on an address of
its own without a token (meant for an internal interface). The outbox's gauges are read from the store when
scraped, at most every few seconds."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import Receive, Scope, Send

from datasources.store.backlog import Backlog, backlog
from datasources.store.repo import Store
from domain.permissions import Permission
from gateway.refusals import refuse

log = logging.getLogger("ccgw.metrics")
# The outbox query runs at most this often, however many scrapers (or replicas' scrapes) there are.
OUTBOX_CACHE_S = 5.0
# A scrape on the separate address waits this long for the outbox query.
OUTBOX_TIMEOUT_S = 5.0
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class OutboxCollector:
    """`ccgw_outbox_pending`, `ccgw_outbox_failed` and `ccgw_outbox_oldest_pending_age_seconds` per connection and
    direction, from the last refresh; nothing when the store could not be read (stale figures would mislead)."""

    def __init__(self, cache_s: float = OUTBOX_CACHE_S) -> None:
        self.cache_s = cache_s
        self._rows: list[Backlog] | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self, store: Store) -> None:
        async with self._lock:
            if time.monotonic() - self._at < self.cache_s:
                return
            try:
                self._rows = await backlog(store)
            except Exception as exc:  # noqa: BLE001 - a scrape reports what it can; the store's state is /readyz's
                log.warning("outbox metrics: the store could not be read (%s)", type(exc).__name__)
                self._rows = None
            self._at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        if self._rows is None:
            return
        labels = ["connection", "direction"]
        pending = GaugeMetricFamily("ccgw_outbox_pending", "Mirrors waiting for delivery", labels=labels)
        failed = GaugeMetricFamily("ccgw_outbox_failed", "Mirrors whose delivery failed for good (FAILED)",
                                   labels=labels)
        age = GaugeMetricFamily("ccgw_outbox_oldest_pending_age_seconds", "Seconds the oldest pending mirror has "
                                "waited, retries included", labels=labels)
        for row in self._rows:
            pending.add_metric([row.connection, row.direction], row.pending)
            failed.add_metric([row.connection, row.direction], row.failed)
            age.add_metric([row.connection, row.direction], row.oldest_pending_s)
        yield from (pending, failed, age)


class _ProcessMetrics:
    """This process's metrics, or, in multiprocess mode, every process's added up."""

    def __init__(self) -> None:
        self._multiprocess = None
        if os.environ.get(MULTIPROC_ENV):
            self._multiprocess = MultiProcessCollector(CollectorRegistry())

    def collect(self) -> Iterator[Metric]:
        yield from (self._multiprocess or REGISTRY).collect()


def exposition(outbox: Collector) -> CollectorRegistry:
    """What a scrape shows: the process metrics and the outbox."""
    registry = CollectorRegistry()
    registry.register(_ProcessMetrics())
    registry.register(outbox)
    return registry


class MetricsEndpoint:
    """`/metrics` behind gateway.authentication (which answers 401 without a valid token): 403 without
    CONNECTION_ADMIN."""

    def __init__(self) -> None:
        self.outbox = OutboxCollector()
        self.registry = exposition(self.outbox)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        actor = (scope.get("state") or {}).get("actor")
        if actor is None:
            await refuse(scope, send, 401, "an Authorization: Bearer token is required", "UNAUTHENTICATED",
                         headers=[(b"www-authenticate", b'Bearer realm="ccgw"')])
            return
        if not actor.can(Permission.CONNECTION_ADMIN):
            await refuse(scope, send, 403, "metrics need the CONNECTION_ADMIN permission", "FORBIDDEN")
            return
        await self.outbox.refresh(scope["app"].state.services.store)
        accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
        encoder, media = choose_encoder(accept)
        body = encoder(self.registry)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode()),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})


@dataclass(eq=False)  # registered by identity
class _OutboxFromThread:
    """The outbox collector for the separate address's server thread: it refreshes on the event loop."""

    outbox: OutboxCollector
    store: Store
    loop: asyncio.AbstractEventLoop

    def collect(self) -> Iterator[Metric]:
        future = asyncio.run_coroutine_threadsafe(self.outbox.refresh(self.store), self.loop)
        try:
            future.result(OUTBOX_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            return
        yield from self.outbox.collect()


class MetricsServer:
    """The metrics on `host:port` without a token (prometheus_client's HTTP server, in a thread)."""

    def __init__(self, bind: str, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        host, port = parse_bind(bind)
        registry = exposition(_OutboxFromThread(OutboxCollector(), store, loop))
        self.server, self.thread = start_http_server(port, addr=host, registry=registry)
        self.port = self.server.server_port
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def parse_bind(bind: str) -> tuple[str, int]:
    """`host:port` (`[::1]:9100` for IPv6); a clear error otherwise."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise SystemExit(f"CCGW_METRICS_BIND must be host:port (such as 127.0.0.1:9100), not {bind!r}")
    return host.strip("[]"), int(port)


def serve_metrics(bind: str | None, store: Store) -> MetricsServer | None:
    """Start the metrics server when `bind` names an address (call from the running event loop)."""
    return MetricsServer(bind, store, asyncio.get_running_loop()) if bind else None
