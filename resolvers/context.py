"""Everything one request's resolvers share: sources, store, loaders, the acting user, partial failures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from opentelemetry.trace import NoOpTracer, Tracer

from datasources.cache import LruCache
from datasources.dataloader import DataLoader
from datasources.errors import SourceError
from datasources.loaders import Loaders
from datasources.probes import Probes
from datasources.read_cache import ReadCache
from datasources.sources import ClinicalSource, Org, Sources
from datasources.store.models import ConnectionRow
from datasources.store.repo import MirrorState, Store
from domain import SyncState
from domain.permissions import Actor

log = logging.getLogger("ccgw")


@dataclass
class Services:
    """Process-wide: built once at start-up."""

    backends: Sources  # the gateway's are datasources.backends.Backends; tests may give in-memory ones
    store: Store
    # The backends' clients, for readiness and the worker's pacing (None with in-memory sources).
    probes: Probes | None = None
    today: Callable[[], date] = date.today
    inline_delivery_s: float = 2.0
    max_attempts: int = 8
    crash_at: str | None = None
    wake_worker: Callable[[], None] | None = None
    introspection: str = "admin"  # "admin", "open" or "closed"
    # Spans of requests, deliveries and polls (gateway.tracing); a no-op unless tracing is on.
    tracer: Tracer = field(default_factory=NoOpTracer)
    # (org, "study" | "site", CTMS id) -> CRM id of the Clinical Study / Clinical Site already upserted there.
    # Kept for ten minutes, so that a study or site renamed in the CTMS reaches the orgs again.
    synced_refs: LruCache[tuple[str, str, str], str] = field(default_factory=lambda: LruCache(50_000, ttl_s=600))
    # Person id -> identifier values last read from the CTMS (see Loaders.known_identifiers).
    identifiers: LruCache[str, dict[str, str | None]] = field(default_factory=lambda: LruCache(100_000))
    # Backend reads kept across requests for queries (CCGW_READ_CACHE_S); None: every query reads the backends.
    reads: ReadCache | None = None
    # Connections change rarely: read them from the store at most this often (a change made through this
    # process is seen at once; one made by another replica within this many seconds).
    connections_ttl_s: float = 2.0
    _connections: tuple[float, list[ConnectionRow]] | None = None
    _connections_read: asyncio.Future[list[ConnectionRow]] | None = None  # the one read in flight
    _connections_version: int = 0  # bumped by forget_connections: a read begun before does not count
    _orgs: tuple[list[ConnectionRow], list[Org]] | None = None
    # Inline deliveries still running (some past their request's deadline); shutdown drains them.
    _inline: set[asyncio.Task[None]] = field(default_factory=set)

    async def connections(self) -> list[ConnectionRow]:
        if self._connections is not None and time.monotonic() - self._connections[0] <= self.connections_ttl_s:
            return self._connections[1]
        # One read when they expire, however many requests find them expired at once.
        read = self._connections_read
        if read is None or read.get_loop() is not asyncio.get_running_loop():
            read = self._connections_read = asyncio.ensure_future(self._read_connections())
            read.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, should all waiters go
        return await asyncio.shield(read)

    async def _read_connections(self) -> list[ConnectionRow]:
        version = self._connections_version
        try:
            rows = await self.store.connections()
        finally:
            if self._connections_version == version:
                self._connections_read = None
        if self._connections_version == version:
            self._connections = (time.monotonic(), rows)
        return rows

    def forget_connections(self) -> None:
        if self.reads is not None:  # an org's address or matching field may have changed
            self.reads.forget_all()
        self._connections = None
        self._connections_read = None
        self._connections_version += 1

    def orgs_of(self, rows: list[ConnectionRow]) -> list[Org]:
        """The orgs of the enabled connections among `rows`, made once per list the store returned."""
        if self._orgs is None or self._orgs[0] is not rows:
            self._orgs = (rows, [self.backends.org(r) for r in rows if r.enabled])
        return self._orgs[1]

    def track_inline(self, task: asyncio.Task[None]) -> None:
        """Keep an inline delivery until it ends, for shutdown to wait for it."""
        self._inline.add(task)
        task.add_done_callback(self._inline.discard)

    async def drain_inline(self, timeout_s: float) -> int:
        """Let the inline deliveries still running finish within `timeout_s`, then cancel the rest (their
        mirrors stay PENDING and a worker delivers them once the lease runs out); returns how many were cancelled.
        No delivery task is left running when this returns."""
        running = set(self._inline)
        if not running:
            return 0
        _, late = await asyncio.wait(running, timeout=timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if late:
            log.warning("shutdown: %d inline deliveries cancelled after %.1f s", len(late), timeout_s)
        return len(late)


@dataclass
class RequestContext:
    services: Services
    actor: Actor
    connections: list[ConnectionRow]
    orgs: list[Org]
    loaders: Loaders
    failures: list[tuple[tuple, SourceError]] = field(default_factory=list)
    refusals: set[tuple[str, object]] = field(default_factory=set)
    _mirrors: DataLoader[tuple[str, str], list[MirrorState]] | None = None
    _counts: dict[str, dict[SyncState, int]] | None = None
    _by_name: dict[str, ConnectionRow] | None = None

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def backends(self) -> Sources:
        return self.services.backends

    @property
    def clinical(self) -> ClinicalSource:
        return self.services.backends.clinical

    def org(self, name: str) -> Org | None:
        return next((o for o in self.orgs if o.name == name), None)

    def connection(self, name: str) -> ConnectionRow | None:
        if self._by_name is None:  # asked for once per sync entry and account: a page asks hundreds of times
            self._by_name = {c.name: c for c in self.connections}
        return self._by_name.get(name)

    async def mirror_rows(self, kind: str, source_id: str) -> list[MirrorState]:
        """Where the mirrors of one source record stand; a request's lookups of every kind are one store query."""
        return await self._mirror_loader().load((kind, source_id))

    async def mirror_rows_many(self, keys: list[tuple[str, str]]) -> list[list[MirrorState]]:
        """mirror_rows of (kind, source id) pairs (a page's worth): one store query at once, kept for later lookups."""
        return await self._mirror_loader().load_batch(keys)

    def known_mirror_rows(self, kind: str, source_id: str, rows: list[MirrorState]) -> None:
        """Where the mirrors of one source record stand as this request has just recorded them (every row it
        shows): its later lookups need not read them back."""
        self._mirror_loader().prime((kind, source_id), sorted(rows, key=lambda m: m.target))

    def _mirror_loader(self) -> DataLoader[tuple[str, str], list[MirrorState]]:
        if self._mirrors is None:
            self._mirrors = DataLoader(self.store.mirror_states)
        return self._mirrors

    async def mirror_counts(self) -> dict[str, dict[SyncState, int]]:
        if self._counts is None:
            self._counts = await self.store.mirror_counts()
        return self._counts


async def build_context(services: Services, actor: Actor) -> RequestContext:
    rows = await services.connections()
    orgs = services.orgs_of(rows)
    return RequestContext(services, actor, rows, orgs, Loaders(services.backends.clinical, orgs, services.identifiers))
