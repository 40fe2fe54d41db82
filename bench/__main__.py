"""Timeline latency: the gateway's p50/p95 for a 20-item timeline versus the slowest backend call it needs.

Both stand-ins get 20 ms of added latency and `build_world(people=10000)`. The gateway runs in this process over
them (SQLite store, no worker). Every backend request the gateway sends for one timeline is recorded, then replayed
directly against the stand-ins with aiohttp in the same run, so "the slowest single backend call" is measured on the
same machine, data and latency. Run: `python -m bench [--requests 200] [--people 10000] [--latency-ms 20]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from datasources.http import HttpBackend
from emulators.seed import CTMS_CREDENTIALS
from emulators.server import EmulatorServer

QUERY = """query($id: ID!) { person(id: $id) { timeline(first: 20) { edges { cursor node { __typename id kind date
  channel status owner subject } } pageInfo { hasNextPage endCursor } } } }"""
PERSON = "0PE000000000004"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Recorder:
    """Wraps HttpBackend.send to keep every backend request (method, URL, headers, body) the gateway makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, dict, dict]] = []
        self.on = False
        original = HttpBackend.send
        recorder = self

        async def send(self, method, path, *, headers=None, timeout_s=None, **kwargs):  # noqa: ANN001, ANN202
            if recorder.on:
                url = path if path.startswith("http") else f"{self.base_url}{path}"
                recorder.calls.append((self.source, method, url, dict(headers or {}), dict(kwargs)))
            return await original(self, method, path, headers=headers, timeout_s=timeout_s, **kwargs)

        HttpBackend.send = send


async def time_direct(calls: list[tuple[str, str, str, dict, dict]], n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    async with aiohttp.ClientSession() as session:
        for source, method, url, headers, kwargs in calls:
            label = f"{source} {method} {url.split('?')[0].rsplit('/', 1)[-1]}"
            while label in out:
                label += "'"
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                async with session.request(method, url, headers=headers, **kwargs) as resp:
                    await resp.read()
                    assert resp.status == 200, (resp.status, label)
                times.append((time.perf_counter() - t0) * 1000)
            out[label] = times
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--people", type=int, default=10000)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    args = ap.parse_args()

    from gateway.app import create_app
    from gateway.demo import configure, start_stand_ins
    from gateway.settings import Settings

    recorder = Recorder()
    os.environ["CCGW_CTMS_USERNAME"] = CTMS_CREDENTIALS["username"]
    os.environ["CCGW_CTMS_PASSWORD"] = CTMS_CREDENTIALS["password"]
    t0 = time.perf_counter()
    ctms, orgs = start_stand_ins(None, people=args.people)
    print(f"stand-ins loaded with {args.people} people in {time.perf_counter() - t0:.1f} s")
    db = Path(tempfile.mkdtemp(prefix="ccgw-bench-")) / "gateway.db"
    settings = Settings(database_url=f"sqlite:///{db}", ctms_url=ctms.url, worker=False)
    configure(settings.database_url, orgs)
    gateway = EmulatorServer(create_app(settings)).start()
    servers = {"ctms": ctms, **{f"crm:{k}": v for k, v in orgs.items()}}
    try:
        for server in servers.values():
            httpx.put(f"{server.url}/_admin/knobs", json={"latency_ms": args.latency_ms}).raise_for_status()
        import base64
        person_gid = base64.urlsafe_b64encode(f"Person:{PERSON}".encode()).decode().rstrip("=")
        client = httpx.Client(base_url=gateway.url, timeout=30, headers={"Accept": "application/json"})

        def ask() -> dict:
            body = client.post("/graphql", json={"query": QUERY, "variables": {"id": person_gid}}).json()
            assert "errors" not in body, body
            return body

        for _ in range(5):
            ask()  # log in, warm caches and connection pools
        recorder.on = True
        edges = ask()["data"]["person"]["timeline"]["edges"]
        recorder.on = False
        calls = list(recorder.calls)

        for server in servers.values():
            httpx.delete(f"{server.url}/_admin/stats")
        gw_times = []
        for _ in range(args.requests):
            t = time.perf_counter()
            ask()
            gw_times.append((time.perf_counter() - t) * 1000)
        per_request = {name: httpx.get(f"{s.url}/_admin/stats").json().get("requests", 0) / args.requests
                       for name, s in servers.items()}

        direct = asyncio.run(time_direct(calls, args.requests))
    finally:
        gateway.stop()
        for server in servers.values():
            server.stop()

    slowest_label, slowest = max(((k, statistics.median(v)) for k, v in direct.items()), key=lambda kv: kv[1])
    gw50, gw95 = statistics.median(gw_times), pct(gw_times, 95)
    print(f"\ntimeline(first: 20) of {PERSON}: {len(edges)} items; {args.requests} requests; "
          f"+{args.latency_ms:g} ms at every stand-in\n")
    print(f"{'measure':<52} {'p50 ms':>8} {'p95 ms':>8}")
    print("-" * 70)
    print(f"{'gateway, whole request':<52} {gw50:>8.1f} {gw95:>8.1f}")
    for label, times in direct.items():
        print(f"{'direct ' + label:<52} {statistics.median(times):>8.1f} {pct(times, 95):>8.1f}")
    print("-" * 70)
    print(f"{'backend calls per gateway request':<52} " + ", ".join(f"{k} {v:g}" for k, v in per_request.items()))
    gap = gw50 - slowest
    verdict = "met" if gap <= 5 else "MISSED"
    print(f"\ngateway p50 - slowest backend p50 ({slowest_label}) = {gap:+.1f} ms  (target <= +5 ms: {verdict})")
    if gap > 5:
        print("why: the timeline needs the person record (1 CTMS call) before it can ask the orgs for calls by the\n"
              "person's identifier values, so the CRM queries wait one full round trip: 2 sequential round trips.")


if __name__ == "__main__":
    main()
