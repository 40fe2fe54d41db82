"""The event bus across processes: PostgreSQL LISTEN/NOTIFY, one listening connection per process, caught up from the
store after a gap."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from datasources.events import ActivityEvent, Listener, LocalFanOut, Watcher

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("ccgw.events")
CHANNEL = "ccgw_events"
# The listening connection names itself so in pg_stat_activity.
APPLICATION_NAME = "ccgw-events"
# A listening connection is checked this often (a connection that died quietly is noticed within it).
KEEPALIVE_S = 5.0
# After a gap, what changed since this long before the last sign of life is replayed: a change is published
# after its commit, so an event can be later than the update time of its rows.
CATCH_UP_MARGIN_S = 30.0
# The first subscriber waits at most this long for the listening connection (then it is caught up later).
READY_WAIT_S = 10.0
_NOTIFY = text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p")

CatchUp = Callable[[datetime], Awaitable[list[ActivityEvent]]]


class PgBus:
    """Publishes with NOTIFY through the store's engine; listens (from the first subscriber on) on a connection of
    its own that reconnects with backoff and then replays, from `catch_up`, what changed during the gap."""

    def __init__(self, engine: AsyncEngine, catch_up: CatchUp) -> None:
        self.engine = engine
        self.catch_up = catch_up
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.local = LocalFanOut()
        # The first wait before reconnecting (doubled up to `max_delay_s`, jittered); tests lengthen it.
        self.reconnect_delay_s = 0.2
        self.max_delay_s = 10.0
        self.connections = 0  # listening connections made so far (1 + reconnections)
        self.listening = False
        self.alive_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None

    async def publish(self, events: Sequence[ActivityEvent]) -> None:
        payloads = [e.payload() for e in events]
        try:
            async with self.engine.connect() as conn:
                await conn.execute(_NOTIFY, {"channel": CHANNEL, "payloads": payloads})
                await conn.commit()
        finally:  # this process's watchers at once, even when the notification failed; its listeners with it
            self.local.changed(events)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[Listener]:
        listener = self.local.add()
        try:
            await self._started()
            yield listener
        finally:
            listener.close()

    async def watch(self, watcher: Watcher) -> None:
        self.local.watch(watcher)
        await self._started()

    @property
    def live(self) -> bool:
        return self.listening

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.local.end_all()

    async def _started(self) -> None:
        """Start the listening task once, and wait (bounded) until it listens."""
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="ccgw-events-listener")
        assert self._ready is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), READY_WAIT_S)

    async def _run(self) -> None:
        """Listen until cancelled: connect, listen, and after a lost connection wait (backoff) and do it again."""
        import asyncpg  # here: a gateway on SQLite never loads the PostgreSQL driver

        delay = self.reconnect_delay_s
        while True:
            try:
                conn = await asyncpg.connect(self.dsn, timeout=5,
                                             server_settings={"application_name": APPLICATION_NAME})
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("event listener: cannot connect (%s); again in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.max_delay_s)
                continue
            try:
                await self._listen_on(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("event listener: connection lost (%s)", type(exc).__name__)
            finally:
                self.listening = False
                self.local.changed(())  # what changes while nobody listens is not seen here
                with contextlib.suppress(Exception):
                    conn.terminate()
            delay = self.reconnect_delay_s
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    async def _listen_on(self, conn: asyncpg.Connection) -> None:
        """LISTEN on one connection; replay the gap before it (if any); return when the connection is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, self._notified)
        gap_since, self.alive_at = self.alive_at, datetime.now(UTC)
        self.connections += 1
        self.listening = True
        assert self._ready is not None
        self._ready.set()
        if gap_since is not None:
            await self._replay(gap_since)
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), KEEPALIVE_S)
            if not lost.is_set():
                await conn.fetchval("SELECT 1", timeout=KEEPALIVE_S)
                self.alive_at = datetime.now(UTC)
        raise ConnectionResetError("the listening connection was closed")

    async def _replay(self, gap_since: datetime) -> None:
        """Hand this process's listeners what changed since shortly before the connection was last known alive."""
        try:
            events = await self.catch_up(gap_since - timedelta(seconds=CATCH_UP_MARGIN_S))
        except Exception as exc:  # noqa: BLE001 - the listener goes on; the pages refetch when they reconnect
            log.warning("event listener: catching up failed (%s)", type(exc).__name__)
            return
        log.info("event listener: caught up with %d events after a gap", len(events))
        self.local.deliver(events)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.alive_at = datetime.now(UTC)
        event = ActivityEvent.parse(payload)
        if event is not None:
            self.local.deliver([event])
