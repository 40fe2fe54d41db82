"""Timeline latency: the gateway's p50/p95 for a 20-item timeline versus the slowest backend call it needs.

Every server runs in its own process, so none shares a GIL with another or with the load client (this process):
the CTMS stand-in and the two CRM orgs (`python -m emulators.ctms|crm`, `build_world(people=10000)`, 20 ms of added
latency each), and the gateway (`ccgw serve`, SQLite store, no worker).

1. Recording: a gateway in this process, over the same stand-ins, answers a few warm-up timelines and then 20
   more with every backend request it sends (method, URL, headers, body, start and end) recorded, and when each
   request reached its app and when its answer's last part was handed to the server; it is then stopped. The
   first recorded request's calls are replayed below; medians over the 20 say how long that gateway took from a
   request to its first backend call and from its last backend reply to its answer (this process's gateway, under
   asyncio's own loop where the timed one runs uvicorn's uvloop: indicative, not the timed figures).
2. Timing: alternating blocks of timelines through the gateway process and of those recorded requests replayed
   directly to the stand-ins, one request at a time and with the same client (aiohttp), so machine noise hits both;
   each direct block ends with as many rounds of all the recorded requests sent at once (timed until the last
   answer is in: what the backends cost a gateway that overlaps them all and does nothing else).
   The stand-ins' request counters, read around each gateway block, give the backend calls per gateway request.
   The Node peer of `bench.load` (Apollo Server 5, bench/peer/; `--no-peer` leaves it out, as does a machine
   without node or its packages) joins the alternation with blocks of its own over the same stand-ins and store,
   after answering with the same JSON as the gateway: what a Node gateway achieves on the same machine. With
   `--floor` the Python floor of `bench.load` (bench/floor.py: the peer's work by hand in Python, no GraphQL)
   joins it the same way.

The goal printed is the latency issue's: gateway p50 at most the slowest backend call's p50 + 2 ms (`--target-ms`).

Run: `python -m bench [--requests 200] [--block 20] [--people 10000] [--latency-ms 20] [--target-ms 2] [--no-peer]
[--floor]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import time
from dataclasses import dataclass, field

import aiohttp
import httpx

from bench.peer_process import missing, peer_config, start_floor, start_peer
from bench.procs import Processes, exit_on_sigterm
from datasources.http import HttpBackend

QUERY = """query($id: ID!) { person(id: $id) { timeline(first: 20) { edges { cursor node { __typename id kind date
  channel status owner subject } } pageInfo { hasNextPage endCursor } } } }"""
PERSON = "0PE000000000004"
GATEWAY, PEER, FLOOR = "gateway", "Node peer", "Python floor"
RECORDED = 20  # timelines recorded from the in-process gateway (after 5 warm-up ones)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Call:
    label: str
    source: str
    method: str
    url: str
    headers: dict
    kwargs: dict
    start: float
    end: float


@dataclass
class Recorded:
    """One gateway request of the recording: when its app got it, when its answer's last byte was handed to the
    server, and the backend calls it made."""

    received: float
    answered: float = 0.0
    calls: list[Call] = field(default_factory=list)


class Recorder:
    """Wraps HttpBackend.send to keep every backend request the in-process gateway makes, with its start and end;
    `stamped(app)` notes when each `/graphql` request arrives and its answer leaves."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.on = False
        original = HttpBackend.send
        recorder = self

        async def send(self, method, path, *, headers=None, timeout_s=None, **kwargs):  # noqa: ANN001, ANN202
            if not recorder.on or not recorder.requests:
                return await original(self, method, path, headers=headers, timeout_s=timeout_s, **kwargs)
            calls = recorder.requests[-1].calls
            url = path if path.startswith("http") else f"{self.base_url}{path}"
            label = f"{self.source} {method} {url.split('?')[0].rsplit('/', 1)[-1]}"
            while label in {c.label for c in calls}:
                label += "'"
            call = Call(label, self.source, method, url, dict(headers or {}), dict(kwargs), time.perf_counter(), 0.0)
            calls.append(call)
            try:
                return await original(self, method, path, headers=headers, timeout_s=timeout_s, **kwargs)
            finally:
                call.end = time.perf_counter()

        HttpBackend.send = send

    def stamped(self, app):  # noqa: ANN001, ANN201
        async def stamping(scope, receive, send):  # noqa: ANN001, ANN202
            if not self.on or scope["type"] != "http" or scope["path"] != "/graphql":
                return await app(scope, receive, send)
            request = Recorded(time.perf_counter())
            self.requests.append(request)

            async def stamp(message):  # noqa: ANN001, ANN202
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    request.answered = time.perf_counter()
                await send(message)
            return await app(scope, receive, stamp)
        return stamping


def record(settings, ask_body: dict, recorded: int) -> list[Recorded]:  # noqa: ANN001
    """Phase 1: the exact backend requests of `recorded` timelines, each with its arrival and answer times, from a
    gateway in this process (stopped afterwards)."""
    from emulators.server import EmulatorServer
    from gateway.app import create_app

    recorder = Recorder()
    gateway = EmulatorServer(recorder.stamped(create_app(settings))).start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=30, headers={"Accept": "application/json"}) as client:
            for i in range(5 + recorded):  # log in, warm caches and connection pools; record the rest
                recorder.on = i >= 5
                body = client.post("/graphql", json=ask_body).json()
                assert "errors" not in body, body
            recorder.on = False
    finally:
        gateway.stop()
    return recorder.requests


def critical_path(calls: list[Call], p50: dict[str, float]) -> tuple[list[Call], float]:
    """The longest chain of recorded calls where each started after the previous one ended, weighted by direct p50.

    Calls that overlapped in the recording could not have waited for each other; a call that started only after
    another ended may have (a CRM query needing the person record first). The chain's sum of direct p50s is what
    the gateway's backend waits add up to if it overlaps everything it can and nothing more."""
    ordered = sorted(calls, key=lambda c: c.start)
    floor: dict[str, tuple[float, Call | None]] = {}
    for c in ordered:
        before = [d for d in ordered if d.end and d.end <= c.start]
        prev = max(before, key=lambda d: floor[d.label][0], default=None)
        floor[c.label] = (p50[c.label] + (floor[prev.label][0] if prev else 0.0), prev)
    last = max(ordered, key=lambda c: floor[c.label][0])
    chain, cur = [], last
    while cur is not None:
        chain.append(cur)
        cur = floor[cur.label][1]
    return chain[::-1], floor[last.label][0]


@dataclass
class Timings:
    """Phase 2's figures, in ms: each server's requests, each direct call, and all the calls at once."""

    servers: dict[str, list[float]]
    direct: dict[str, list[float]]
    together: list[float]
    backend_calls: dict[str, int]  # made by the gateway's requests, per stand-in
    requests: int  # per server


async def timed(gateways: dict[str, str], servers: dict[str, str], calls: list[Call], ask_body: dict,
                requests: int, block: int) -> Timings:
    """Phase 2: alternate a block of requests to each of `gateways` (name: URL; the gateway first) and a block of
    each direct call, then of all the calls at once (`block` of each at a time)."""
    times: dict[str, list[float]] = {name: [] for name in gateways}
    direct: dict[str, list[float]] = {c.label: [] for c in calls}
    together: list[float] = []  # all the recorded calls sent at once, as the gateway sends them: until the last is in
    backend_calls = dict.fromkeys(servers, 0)
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    payload = json.dumps(ask_body).encode()

    async with aiohttp.ClientSession() as session:
        async def ask(url: str) -> float:
            t0 = time.perf_counter()
            async with session.post(url + "/graphql", data=payload, headers=headers) as resp:
                raw = await resp.read()
            took = (time.perf_counter() - t0) * 1000
            body = json.loads(raw)
            assert resp.status == 200 and "errors" not in body, body
            return took

        async def hit(c: Call) -> float:
            t0 = time.perf_counter()
            async with session.request(c.method, c.url, headers=c.headers, **c.kwargs) as resp:
                await resp.read()
            took = (time.perf_counter() - t0) * 1000
            assert resp.status == 200, (resp.status, c.label)
            return took

        async def counts() -> dict[str, int]:
            out = {}
            for name, url in servers.items():
                async with session.get(url + "/_admin/stats") as resp:
                    out[name] = (await resp.json()).get("requests", 0)
            return out

        async def gateway_block(n: int) -> None:
            for label, url in gateways.items():
                before = await counts()
                for _ in range(n):
                    times[label].append(await ask(url))
                after = await counts()
                if label == GATEWAY:
                    for name in servers:
                        backend_calls[name] += after[name] - before[name]

        async def all_at_once() -> float:
            t0 = time.perf_counter()
            await asyncio.gather(*(hit(c) for c in calls))
            return (time.perf_counter() - t0) * 1000

        async def direct_block(n: int) -> None:
            for c in calls:
                for _ in range(n):
                    direct[c.label].append(await hit(c))
            for _ in range(n):
                together.append(await all_at_once())

        for url in gateways.values():  # warm the servers and this session's connection pools
            for _ in range(5):
                await ask(url)
        for c in calls:
            await hit(c)
        await all_at_once()  # as many connections per stand-in as the calls at once need
        done = 0
        for i in range((requests + block - 1) // block):
            n = min(block, requests - done)
            first, second = (gateway_block, direct_block) if i % 2 == 0 else (direct_block, gateway_block)
            await first(n)
            await second(n)
            done += n
    return Timings(times, direct, together, backend_calls, done)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--block", type=int, default=20, help="requests per alternating block")
    ap.add_argument("--people", type=int, default=10000)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--target-ms", type=float, default=2.0, help="goal: gateway p50 - slowest backend p50")
    ap.add_argument("--no-peer", action="store_true", help="without the Node peer's blocks")
    ap.add_argument("--floor", action="store_true", help="with blocks of the Python floor (bench/floor.py)")
    args = ap.parse_args()
    exit_on_sigterm()
    person_gid = base64.urlsafe_b64encode(f"Person:{PERSON}".encode()).decode().rstrip("=")
    ask_body = {"query": QUERY, "variables": {"id": person_gid}}
    recorded, timings, items = measure(args, ask_body)
    report(args, recorded, timings, items)


def measure(args: argparse.Namespace, ask_body: dict) -> tuple[list[Recorded], Timings, int]:
    """Start the stand-ins, record the in-process gateway's backend calls, then time the gateway process (and the
    peer) against those calls replayed directly; also the number of items the timeline answered."""
    from gateway.demo import configure, demo_secrets
    from gateway.settings import Settings

    with Processes() as procs:
        t0 = time.perf_counter()
        ctms, orgs = procs.stand_ins(args.people)
        print(f"stand-ins loaded with {args.people} people in {time.perf_counter() - t0:.1f} s "
              f"(one process each: ctms pid {ctms.popen.pid}, "
              + ", ".join(f"crm:{k} pid {v.popen.pid}" for k, v in orgs.items()) + ")")
        servers = {"ctms": ctms.url, **{f"crm:{k}": v.url for k, v in orgs.items()}}
        for url in servers.values():
            httpx.put(f"{url}/_admin/knobs", json={"latency_ms": args.latency_ms}).raise_for_status()
        database = procs.dir / "gateway.db"
        configure(f"sqlite:///{database}", orgs)
        os.environ.update(demo_secrets(os.environ))  # the stand-ins' credentials, inherited below

        recorded = record(Settings(database_url=f"sqlite:///{database}", ctms_url=ctms.url, worker=False), ask_body,
                          RECORDED)
        gateways = {GATEWAY: procs.gateway({"CCGW_DATABASE_URL": f"sqlite:///{database}", "CCGW_CTMS_URL": ctms.url,
                                            "CCGW_WORKER": "false"}).url}
        reason = "--no-peer" if args.no_peer else missing()
        config = peer_config(ctms.url, {k: v.url for k, v in orgs.items()}, database, None)
        if reason is None:
            gateways[PEER] = start_peer(procs, config).url
        if args.floor:
            gateways[FLOOR] = start_floor(procs, config).url
        answers = [httpx.post(url + "/graphql", json=ask_body, timeout=30).json() for url in gateways.values()]
        if any(answer != answers[0] for answer in answers):
            raise SystemExit(f"the servers' answers differ: {answers}")
        print(f"recorded {len(recorded[0].calls)} backend requests per timeline from an in-process gateway "
              f"({len(recorded)} timelines; stopped); timing the gateway process"
              + (" and the Node peer" if reason is None else f" (no peer: {reason})")
              + (" and the Python floor" if args.floor else "")
              + f" and direct replays in alternating blocks of {args.block}")
        timings = asyncio.run(timed(gateways, servers, recorded[0].calls, ask_body, args.requests, args.block))
    return recorded, timings, len(answers[0]["data"]["person"]["timeline"]["edges"])


def report(args: argparse.Namespace, recorded: list[Recorded], t: Timings, items: int) -> None:
    calls = recorded[0].calls
    p50 = {label: statistics.median(times) for label, times in t.direct.items()}
    slowest_label = max(p50, key=p50.__getitem__)
    per_request = {name: count / t.requests for name, count in t.backend_calls.items()}
    print(f"\ntimeline(first: 20) of {PERSON}: {items} items; {t.requests} requests; "
          f"+{args.latency_ms:g} ms at every stand-in\n")
    print(f"{'measure':<52} {'p50 ms':>8} {'p95 ms':>8}")
    print("-" * 70)
    for name, times in t.servers.items():
        print(f"{name + ', whole request':<52} {statistics.median(times):>8.1f} {pct(times, 95):>8.1f}")
    for label, times in t.direct.items():
        print(f"{'direct ' + label:<52} {p50[label]:>8.1f} {pct(times, 95):>8.1f}")
    together50 = statistics.median(t.together)
    print(f"{f'direct, all {len(calls)} at once (until the last is in)':<52} {together50:>8.1f} "
          f"{pct(t.together, 95):>8.1f}")
    print("-" * 70)
    print(f"{'backend calls per gateway request':<52} " + ", ".join(f"{k} {v:g}" for k, v in per_request.items()))
    gw50 = statistics.median(t.servers[GATEWAY])
    gap = gw50 - p50[slowest_label]
    verdict = "met" if gap <= args.target_ms else "MISSED"
    print(f"\ngateway p50 - slowest backend p50 ({slowest_label}) = {gap:+.1f} ms  "
          f"(target <= +{args.target_ms:g} ms: {verdict})")
    for other in (PEER, FLOOR):
        if other in t.servers:
            mine = statistics.median(t.servers[other])
            print(f"{other} p50 - slowest backend p50 = {mine - p50[slowest_label]:+.1f} ms (the same query, backend "
                  f"calls and JSON; the gateway's p50 is {gw50 - mine:+.1f} ms from the {other}'s)")
    explain(gap, calls, p50, slowest_label, together50, gw50, per_request)
    print_phases(recorded)


def explain(gap: float, calls: list[Call], p50: dict[str, float], slowest_label: str, together50: float,
            gw50: float, per_request: dict[str, float]) -> None:
    """Where the gateway's time beyond the slowest backend call goes."""
    chain, chain_ms = critical_path(calls, p50)
    print(f"\nwhere the {gap:+.1f} ms goes (figures from this run):")
    print(f"  backend calls per request: {sum(per_request.values()):g} "
          f"({', '.join(f'{k} {v:g}' for k, v in per_request.items())}); recorded request: {len(calls)}")
    print(f"  longest chain of recorded calls that ran one after another: {len(chain)} "
          f"({' -> '.join(c.label for c in chain)}); sum of their direct p50s {chain_ms:.1f} ms "
          f"= slowest + {chain_ms - p50[slowest_label]:.1f} ms")
    if len(chain) == 1:  # every call overlapped the others: sending them all at once is what the gateway does
        print(f"  the recorded calls sent all at once, directly: p50 {together50:.1f} ms = slowest "
              f"{together50 - p50[slowest_label]:+.1f} ms (the stand-ins answering {len(calls)} calls together, on "
              f"shared cores, instead of one); gateway p50 beyond that: {gw50 - together50:+.1f} ms")
    print(f"  gateway p50 beyond that chain (its own work, serial or not): {gw50 - chain_ms:+.1f} ms")


def print_phases(recorded: list[Recorded]) -> None:
    """Where one request's time went in the recording (medians over its requests, in ms)."""
    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    done = [r for r in recorded if r.calls and r.answered]
    firsts = [min(c.start for c in r.calls) for r in done]
    lasts = [max(c.end for c in r.calls) for r in done]
    starts: dict[str, list[float]] = {}
    for r, first in zip(done, firsts, strict=True):
        for c in r.calls:
            starts.setdefault(c.label, []).append(c.start - first)
    order = sorted(starts, key=lambda label: statistics.median(starts[label]))
    before = ms([f - r.received for r, f in zip(done, firsts, strict=True)])
    span = ms([last - f for f, last in zip(firsts, lasts, strict=True)])
    after = ms([r.answered - last for r, last in zip(done, lasts, strict=True)])
    whole = ms([r.answered - r.received for r in done])
    print(f"  in the recording (the in-process gateway, medians of {len(done)} timelines): the first backend call "
          f"started {before:.1f} ms after the request reached the gateway's app; calls started at (ms after the "
          "first) " + ", ".join(f"{label} +{ms(starts[label]):.1f}" for label in order)
          + f"; the last reply was in {span:.1f} ms after the first call started; the answer left {after:.1f} ms "
          f"after the last reply (request to answer {whole:.1f} ms)")


if __name__ == "__main__":
    main()
