"""Live-update events (ids only) and the bus that carries them: the interface, and the in-process implementation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from domain.models import SyncState

log = logging.getLogger("ccgw.events")
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; ours carry ids only and stay far below.
MAX_PAYLOAD_BYTES = 8000
# Events waiting for one slow subscriber; past this its stream ends with EventsLost (the client reads again and
# subscribes again) rather than going on with a gap nobody sees.
QUEUE_MAX = 1000
_LOST = object()


class EventsLost(Exception):
    """A listener fell more than QUEUE_MAX events behind: what it missed is gone, and so is its stream."""


class Change(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    SYNC_CHANGED = "SYNC_CHANGED"


@dataclass(frozen=True)
class ActivityEvent:
    """Something happened to an activity: ids only, never its content (each subscriber reads it with its own
    permissions). `kind` is "clinical" (source id: the CTMS id) or "medical" (source id: "<connection>:<call id>");
    `person_id` the CTMS person when known; for SYNC_CHANGED, the mirror's `target` and its new `state`."""

    change: Change
    kind: str
    source_id: str
    person_id: str | None = None
    target: str | None = None
    state: SyncState | None = None

    def payload(self) -> str:
        """The event as the bus carries it (JSON, under MAX_PAYLOAD_BYTES)."""
        text = json.dumps({"c": self.change.value, "k": self.kind, "s": self.source_id, "p": self.person_id,
                           "t": self.target, "st": self.state.value if self.state else None}, separators=(",", ":"))
        assert len(text.encode()) < MAX_PAYLOAD_BYTES, "an event payload must stay under 8000 bytes"
        return text

    @classmethod
    def parse(cls, text: str) -> ActivityEvent | None:
        """The event a payload carries; None (logged) for one that is not ours."""
        try:
            d = json.loads(text)
            return cls(Change(d["c"]), str(d["k"]), str(d["s"]), d.get("p"), d.get("t"),
                       SyncState(d["st"]) if d.get("st") else None)
        except (ValueError, KeyError, TypeError):
            log.warning("an event payload could not be read (%d bytes)", len(text))
            return None

    @property
    def connection(self) -> str | None:
        """The connection a mirror change concerns: its target org, or the org a call (mirrored to the CTMS) is in."""
        if self.kind == "medical":
            return self.source_id.partition(":")[0]
        return self.target


class Listener:
    """One subscriber's queue of events; iterate it, and close it (or leave the `listen()` block) when done."""

    def __init__(self, bus: LocalFanOut) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[ActivityEvent | None] = asyncio.Queue(QUEUE_MAX)
        self._loop = asyncio.get_running_loop()
        self.dropped = 0

    def offer(self, event: ActivityEvent | None) -> None:
        """Queue an event (from any thread or loop); None ends the iteration."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._put(event)
            return
        with contextlib.suppress(RuntimeError):  # its loop has closed: nobody listens any more
            self._loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: ActivityEvent | None) -> None:
        if self.dropped:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = self._queue.qsize() + 1
            log.warning("a subscriber fell %d events behind: its stream ends", self.dropped)
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_LOST)  # type: ignore[arg-type]

    def __aiter__(self) -> AsyncIterator[ActivityEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[ActivityEvent]:
        while (event := await self._queue.get()) is not None:
            if event is _LOST:
                raise EventsLost
            yield event

    def close(self) -> None:
        self._bus.remove(self)


Watcher = Callable[[Sequence[ActivityEvent]], None]


class LocalFanOut:
    """The listeners of this process, and the handing of an event to each of them; watchers are told at once, in
    the publisher's or the notification's own callback (before any listener runs)."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        self._watchers: list[Watcher] = []

    def watch(self, watcher: Watcher) -> None:
        self._watchers.append(watcher)

    def changed(self, events: Sequence[ActivityEvent]) -> None:
        """Tell the watchers (only) of events, or with none, that changes may have been missed."""
        for watcher in self._watchers:
            watcher(events)

    def add(self) -> Listener:
        listener = Listener(self)
        self._listeners.add(listener)
        return listener

    def remove(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def deliver(self, events: Sequence[ActivityEvent]) -> None:
        self.changed(events)
        for listener in tuple(self._listeners):
            for event in events:
                listener.offer(event)

    def end_all(self) -> None:
        for listener in tuple(self._listeners):
            listener.offer(None)
        self._listeners.clear()

    @property
    def count(self) -> int:
        return len(self._listeners)


class EventBus(Protocol):
    """Publish events after the transaction that made them committed; listen to every event of every process that
    shares the store (the in-process bus: of this process only)."""

    async def publish(self, events: Sequence[ActivityEvent]) -> None: ...

    def listen(self) -> contextlib.AbstractAsyncContextManager[Listener]: ...

    async def watch(self, watcher: Watcher) -> None:
        """Call `watcher` at every event from now on (this process's at once), and with none when events may have
        been missed (a lost listening connection)."""

    @property
    def live(self) -> bool:
        """Whether every event reaches this process's watchers now."""

    async def close(self) -> None: ...


class InProcessBus:
    """The bus of a single process (SQLite): events go straight to this process's listeners."""

    def __init__(self) -> None:
        self.local = LocalFanOut()

    async def publish(self, events: Sequence[ActivityEvent]) -> None:
        for event in events:
            event.payload()  # the same bound as across processes
        self.local.deliver(events)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[Listener]:
        listener = self.local.add()
        try:
            yield listener
        finally:
            listener.close()

    async def watch(self, watcher: Watcher) -> None:
        self.local.watch(watcher)

    @property
    def live(self) -> bool:
        return True

    async def close(self) -> None:
        self.local.end_all()


async def publish_quietly(bus: EventBus | None, events: Sequence[ActivityEvent]) -> None:
    """Publish after a commit: a bus that fails is logged, never undoes or fails the write that was made."""
    if bus is None or not events:
        return
    try:
        await bus.publish(events)
    except Exception as exc:  # noqa: BLE001 - the write is committed; live updates are best effort
        log.warning("%d events not published: %s", len(events), type(exc).__name__)
