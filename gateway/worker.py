"""The outbox worker: delivers pending mirrors, resolves unfinished intents, polls both sides for changes."""

from __future__ import annotations

import asyncio
import logging

from gateway.settings import Settings
from resolvers.context import Services

log = logging.getLogger("ccgw.worker")


async def run_worker(services: Services, settings: Settings) -> None:
    """Run until cancelled: cycle after cycle, each after a pause that a write's wake-up call cuts short."""
    from resolvers import recovery

    wake = asyncio.Event()
    services.wake_worker = wake.set
    await recovery.resolve_intents(services)
    last_poll = 0.0
    loop = asyncio.get_running_loop()
    while True:
        poll = settings.poll_interval_s > 0 and loop.time() - last_poll >= settings.poll_interval_s
        if poll:
            last_poll = loop.time()
        await _cycle(services, poll=poll)
        await _pause(services, wake, settings.worker_interval_s)


async def _cycle(services: Services, *, poll: bool) -> None:
    """One pass: poll both sides for changes (when due), deliver every mirror due, resolve unfinished intents."""
    from resolvers import delivery, polling, recovery

    try:
        if poll:
            await polling.poll_once(services)
        while await delivery.deliver_due(services, worker="inproc") > 0:
            pass
        await recovery.resolve_intents(services, older_than_s=30)
    except Exception:  # noqa: BLE001 - the worker outlives any one failure
        log.exception("worker cycle failed")


async def _pause(services: Services, wake: asyncio.Event, interval_s: float) -> None:
    """Wait `interval_s` or until woken; first, as long as Vault last asked for (its burst budget spent)."""
    delay_s = services.probes.pacing_s if services.probes else 0.0
    if delay_s:
        await asyncio.sleep(delay_s)
    wake.clear()
    try:
        await asyncio.wait_for(wake.wait(), timeout=interval_s)
    except TimeoutError:
        pass
