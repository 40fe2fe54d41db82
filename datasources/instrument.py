"""What the layers below the gateway report for its metrics (backend calls, API budgets, deliveries, polls), as
events handed to observers the gateway installs: nothing here knows how they are counted or exposed.

The observers are process-wide (`OBSERVERS`), as metrics are: one process, one set of counters. With no observer
installed (a test, a script) an event costs a function call."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger("ccgw.instrument")


@dataclass(frozen=True)
class BackendCall:
    """One HTTP exchange with a backend: `status` is None when no reply came (`error` then says why)."""

    source: str
    operation: str
    method: str
    status: int | None
    duration_s: float
    error: str | None = None


@dataclass(frozen=True)
class BackendError:
    """A backend failure by kind: timeout, unreachable, transport, server_error, throttled (429), rejected,
    not_found, unavailable (a reply saying so, such as an API limit), login_failed, session_expired."""

    source: str
    kind: str


@dataclass(frozen=True)
class ApiBudget:
    """What a backend says is left of its API allowance in a window (Vault's burst, Salesforce's daily usage)."""

    source: str
    window: str
    remaining: int
    limit: int


@dataclass(frozen=True)
class MirrorFinished:
    """A delivery outcome recorded for one mirror of `source_id` in `target`: synced, retry, failed, no_match,
    conflict or requeued (a newer change arrived while it was delivered)."""

    source_id: str
    target: str
    outcome: str


@dataclass(frozen=True)
class PollDone:
    """A successful poll of a source (`ctms`, `crm:us`): everything changed there up to now has been seen."""

    source: str


@dataclass(frozen=True)
class ChangesSeen:
    """Changes a poll found in a source, by how long after they were made it found them."""

    source: str
    lags_s: tuple[float, ...]

    @classmethod
    def since(cls, source: str, changed_at: Iterable[datetime | None]) -> ChangesSeen:
        now = datetime.now(UTC)
        return cls(source, tuple(max(0.0, (now - t).total_seconds()) for t in changed_at if t is not None))


@dataclass(frozen=True)
class ReadRecalled:
    """A query's backend read looked up among the answers kept across requests (datasources.read_cache)."""

    read: str
    hit: bool


Event = BackendCall | BackendError | ApiBudget | MirrorFinished | PollDone | ChangesSeen | ReadRecalled
Observer = Callable[[Event], None]


class Observers:
    """The callbacks events go to; one failing is logged and never disturbs the code that reported."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def add(self, observer: Observer) -> None:
        if observer not in self._observers:
            self._observers.append(observer)

    def remove(self, observer: Observer) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def emit(self, event: Event) -> None:
        for observer in tuple(self._observers):
            try:
                observer(event)
            except Exception:  # noqa: BLE001 - instrumentation must never break a call or a delivery
                log.exception("an observer failed on %s", type(event).__name__)


OBSERVERS = Observers()
emit = OBSERVERS.emit
