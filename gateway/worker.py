"""The outbox worker: delivers pending mirrors, resolves unfinished intents, polls both sides for changes."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from datasources.backends import Backends
from gateway.settings import Settings
from resolvers.context import Services

log = logging.getLogger("ccgw.worker")


async def run_worker(services: Services, settings: Settings) -> None:
    from resolvers import delivery, polling, recovery

    wake = asyncio.Event()
    services.wake_worker = wake.set
    await recovery.resolve_intents(services)
    last_poll = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            if settings.poll_interval_s > 0 and loop.time() - last_poll >= settings.poll_interval_s:
                last_poll = loop.time()
                await polling.poll_once(services)
            while await delivery.deliver_due(services, worker="inproc") > 0:
                pass
            await recovery.resolve_intents(services, older_than_s=30)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the worker outlives any one failure
            log.exception("worker cycle failed")
        # Vault delays answers once its burst budget is spent: pace the next cycle by what it last asked for.
        delay_s = cast(Backends, services.backends).ctms.response_delay_s
        if delay_s:
            await asyncio.sleep(delay_s)
        wake.clear()
        try:
            await asyncio.wait_for(wake.wait(), timeout=settings.worker_interval_s)
        except TimeoutError:
            pass
