"""Readiness probes are shared for a few seconds: a probe loop does not turn into a load on every backend."""

from __future__ import annotations

import httpx


def test_readiness_reuses_its_probes(stack, stats, reset_stats) -> None:
    gw = stack.start_gateway(readyz_cache_s=30.0, worker=False)
    with httpx.Client(base_url=gw.url) as http:
        assert http.get("/readyz").json() == {"status": "ready"}
        reset_stats(stack.ctms)
        for _ in range(5):
            assert http.get("/readyz").json() == {"status": "ready"}
    assert sum(stats(stack.ctms).values()) == 0
