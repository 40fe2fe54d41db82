"""Shutdown and inline deliveries: the gateway's lifespan waits for a delivery still running past its request's
deadline, a delivery that outlasts the bound is cancelled, and no delivery task is left running either way."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from datasources.store.models import Mirror
from gateway.app import create_app
from gateway.settings import Settings
from resolvers import delivery, inline_delivery
from resolvers.context import RequestContext, Services, build_context
from resolvers.delivery import SYSTEM


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # waits for real time to pass (the shutdown bounds)


class SlowDelivery:
    """Stands in for delivery.deliver_claimed: takes `seconds`, and records how it ended and in which task."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ended: str | None = None
        self.task: asyncio.Task | None = None

    async def __call__(self, ctx: RequestContext, rows: Sequence[Mirror], worker: str, known: object,
                       committing: object = None) -> None:
        self.task = asyncio.current_task()
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.ended = "cancelled"
            raise
        self.ended = "finished"


def _rows() -> list[Mirror]:
    return [Mirror(id=1, source_kind="clinical", source_id="0AC000000000001", target="us")]


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'gw.db'}", ctms_url="http://127.0.0.1:9", worker=False,
                    inline_delivery_s=0.05)


async def test_the_lifespan_waits_for_an_inline_delivery_past_its_deadline(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowDelivery(0.5)
    monkeypatch.setattr(delivery, "deliver_claimed", slow)
    app = create_app(_settings(tmp_path), secrets={})
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        ctx = await build_context(services, SYSTEM)
        await inline_delivery.deliver_inline(ctx, _rows(), "inline-test")  # answers after 0.05 s; delivery goes on
        assert slow.ended is None and slow.task is not None and not slow.task.done()
    assert slow.ended == "finished" and slow.task.done()
    assert not services._inline


async def test_a_delivery_past_the_bound_is_cancelled_and_none_is_left_running(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowDelivery(60)
    monkeypatch.setattr(delivery, "deliver_claimed", slow)
    app = create_app(_settings(tmp_path), secrets={})
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        ctx = await build_context(services, SYSTEM)
        await inline_delivery.deliver_inline(ctx, _rows(), "inline-test")
        assert slow.task is not None and not slow.task.done()
        started = asyncio.get_running_loop().time()
        assert await services.drain_inline(0.2) == 1
        assert 0.15 < asyncio.get_running_loop().time() - started < 5
    assert slow.ended == "cancelled" and slow.task.cancelled()
    assert not services._inline


async def test_draining_nothing_returns_at_once(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path), secrets={})
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        started = asyncio.get_running_loop().time()
        assert await services.drain_inline(30) == 0
        assert asyncio.get_running_loop().time() - started < 1
