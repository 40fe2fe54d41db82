"""The process-wide services: connections read from the store once per expiry, however many requests ask."""

from __future__ import annotations

import asyncio

import pytest

from tests.resolvers.world import Env

pytestmark = pytest.mark.anyio


def _count_reads(env: Env, monkeypatch: pytest.MonkeyPatch, gate: asyncio.Event | None = None) -> list[int]:
    reads: list[int] = []
    read = env.store.connections

    async def counted(enabled_only: bool = False) -> list:  # noqa: FBT001, FBT002
        reads.append(1)
        if gate is not None:
            await gate.wait()
        return await read(enabled_only)

    monkeypatch.setattr(env.store, "connections", counted)
    return reads


async def test_expired_connections_are_read_once_for_every_waiting_request(env: Env, monkeypatch) -> None:  # noqa: ANN001
    gate = asyncio.Event()
    reads = _count_reads(env, monkeypatch, gate)
    env.services.forget_connections()
    waiting = [asyncio.ensure_future(env.services.connections()) for _ in range(20)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*waiting)
    assert len(reads) == 1
    assert all(r is results[0] for r in results) and {c.name for c in results[0]} == {"us", "eu"}
    assert await env.services.connections() is results[0] and len(reads) == 1  # kept until it expires


async def test_a_change_during_a_read_is_not_hidden_by_it(env: Env, monkeypatch) -> None:  # noqa: ANN001
    gate = asyncio.Event()
    reads = _count_reads(env, monkeypatch, gate)
    env.services.forget_connections()
    before = asyncio.ensure_future(env.services.connections())
    await asyncio.sleep(0.01)
    eu = next(c for c in await type(env.store).connections(env.store) if c.name == "eu")  # unpatched
    eu.enabled = False
    await env.store.save_connection(eu)
    env.services.forget_connections()  # as the mutation that changed it does
    after = asyncio.ensure_future(env.services.connections())
    await asyncio.sleep(0.01)
    gate.set()
    await before
    assert {c.name: c.enabled for c in await after}["eu"] is False
    assert {c.name: c.enabled for c in await env.services.connections()}["eu"] is False
    assert len(reads) == 2  # the read begun before the change, and the one after it
