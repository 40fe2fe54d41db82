"""Incremental sync: changes made directly in either system, found by polling since a high-water mark."""

from __future__ import annotations

from resolvers.context import Services


async def poll_once(services: Services) -> None:
    return None
