"""Large-result and memory figures: what 100 items cost against 20, and the gateway's RSS under 100 concurrent reads.

The CTMS stand-in and the two CRM orgs each run in their own process, the gateway in its own (`ccgw serve`, no
worker, no polling); stand-ins at 0 ms added latency unless told, so what is
measured is cost, not waiting.

(a) A person with 150 extra clinical activities (written straight into the CTMS): `timeline(first: 20)` against
    `timeline(first: 100)`, each with `sync` per item; p50 latency and the gateway's CPU ms per request (target:
    the 100-item figure under 5x the 20-item one).
(b) `people(first: 20)` against `people(first: 100)` with each person's `accounts` (target: under 5x).
(c) The gateway's peak RSS while 100 timeline(first: 20) requests are in flight at once, round-robin over people,
    for several rounds (target: under 150 MB).

Run: `python -m bench.large [--repeat 30] [--extra 150] [--people 200] [--latency-ms 0] [--rounds 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

import aiohttp
import httpx

from bench.proc_usage import Usage
from bench.procs import Proc, Processes, exit_on_sigterm
from bench.writes import SITE, cpu_s, gid, knobs, vault

TIMELINE = """query($id: ID!, $n: Int!) { person(id: $id) { accounts { connection { name } accountId }
  timeline(first: $n) { edges { cursor node { __typename id kind date channel status owner subject
  sync { connection { name } state } } } pageInfo { hasNextPage endCursor } } } }"""
PEOPLE = """query($n: Int!) { people(first: $n) { edges { node { id firstName lastName
  accounts { connection { name } accountId } } } pageInfo { hasNextPage endCursor } } }"""
PERSON = "0PE000000000004"


def seed_timeline(ctms_server: Proc, person: str, extra: int) -> None:
    """`extra` clinical activities for one person, straight into the CTMS."""
    ctms = vault(ctms_server)
    day = date.today() - timedelta(days=1)
    for start in range(0, extra, 500):
        recs = [{"object_type__v.api_name__v": "clinical_activity__v", "person__v": person, "site__v": SITE,
                 "activity_date__v": (day - timedelta(days=i % 300)).isoformat(), "channel__v": "phone__v",
                 "completed__v": True, "subject__v": f"large {i}",
                 "owner__v": "Clara Oswald (clara.oswald@ctms.example.com)"}
                for i in range(start, min(extra, start + 500))]
        body = ctms.post("/vobjects/crm_activity__v", json=recs).json()
        assert body["responseStatus"] == "SUCCESS", body


def measure(client: httpx.Client, pid: int, body: Callable[[int], dict], n: int, repeat: int,
            count: Callable[[dict], int]) -> tuple[float, float, int]:
    """p50 ms and gateway CPU ms per request of `repeat` requests of size `n` (after two warm-ups); items seen."""
    items = 0
    for _ in range(2):
        reply = client.post("/graphql", json=body(n)).json()
        assert "errors" not in reply, reply
        items = count(reply)
    times: list[float] = []
    cpu0 = cpu_s(pid)
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.post("/graphql", json=body(n)).raise_for_status()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), (cpu_s(pid) - cpu0) * 1000 / repeat, items


def compare(label: str, client: httpx.Client, pid: int, body: Callable[[int], dict], repeat: int,
            count: Callable[[dict], int]) -> None:
    """The 20- and 100-item figures, alternating three times (noise hits both), and their ratio."""
    small: list[tuple[float, float, int]] = []
    big: list[tuple[float, float, int]] = []
    for _ in range(3):
        small.append(measure(client, pid, body, 20, repeat, count))
        big.append(measure(client, pid, body, 100, repeat, count))
    s_ms, s_cpu = statistics.median(x[0] for x in small), statistics.median(x[1] for x in small)
    b_ms, b_cpu = statistics.median(x[0] for x in big), statistics.median(x[1] for x in big)
    print(f"{label}: 20 -> {small[0][2]} items p50 {s_ms:.1f} ms, gateway CPU {s_cpu:.1f} ms/req; "
          f"100 -> {big[0][2]} items p50 {b_ms:.1f} ms, CPU {b_cpu:.1f} ms/req; ratio p50 {b_ms / s_ms:.2f}x, "
          f"CPU {b_cpu / s_cpu:.2f}x (target < 5x)")


async def concurrent_rss(url: str, pid: int, people: int, rounds: int, concurrency: int = 100) -> None:
    """Peak RSS while `concurrency` timeline requests are in flight at once."""
    usage = Usage(pid, every_s=0.05).start()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as client:
        async def one(i: int) -> None:
            person = gid("Person", f"0PE{(i % people) + 1:012d}")
            async with client.post("/graphql", json={"query": TIMELINE, "variables": {"id": person, "n": 20}}) as r:
                assert r.status == 200, r.status
                await r.read()
        t0 = time.perf_counter()
        for r in range(rounds):
            await asyncio.gather(*(one(r * concurrency + i) for i in range(concurrency)))
        took = time.perf_counter() - t0
    usage.stop()
    rss = [s.rss_kib / 1024 for s in usage.samples]
    print(f"(c) gateway RSS with {concurrency} concurrent timeline(first: 20) requests, {rounds} rounds "
          f"({rounds * concurrency / took:.0f} req/s): start {rss[0]:.0f} MB, peak {max(rss):.0f} MB, "
          f"end {rss[-1]:.0f} MB (target < 150 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="requests per measurement")
    parser.add_argument("--extra", type=int, default=150, help="activities added to the measured person")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of 100 concurrent requests")
    args = parser.parse_args()
    exit_on_sigterm()

    from gateway.demo import configure, demo_secrets

    os.environ.update(demo_secrets({}))
    with Processes() as procs:
        ctms_server, orgs = procs.stand_ins(people=args.people)
        database_url = f"sqlite:///{procs.dir / 'gateway.db'}"
        configure(database_url, orgs)
        seed_timeline(ctms_server, PERSON, args.extra)
        gw = procs.gateway({"CCGW_DATABASE_URL": database_url, "CCGW_CTMS_URL": ctms_server.url,
                            "CCGW_POLL_INTERVAL_S": "0", "CCGW_WORKER": "false", "CCGW_RATE_LIMIT_PER_MINUTE": "0",
                            "CCGW_MAX_COST": "0"})
        for server in [ctms_server, *orgs.values()]:
            knobs(server, latency_ms=args.latency_ms)
        pid = gw.popen.pid
        client = httpx.Client(base_url=gw.url, timeout=120)
        print(f"stand-ins at {args.latency_ms:g} ms, {args.people} people, {args.extra} extra activities for "
              f"{PERSON} [each process its own; alternating 20/100 three times, {args.repeat} requests each]")
        compare("(a) timeline with sync", client, pid,
                lambda n: {"query": TIMELINE, "variables": {"id": gid("Person", PERSON), "n": n}}, args.repeat,
                lambda r: len(r["data"]["person"]["timeline"]["edges"]))
        compare("(b) people with accounts", client, pid, lambda n: {"query": PEOPLE, "variables": {"n": n}},
                args.repeat, lambda r: len(r["data"]["people"]["edges"]))
        try:
            asyncio.run(concurrent_rss(gw.url, pid, args.people, args.rounds))
        except Exception:
            print(gw.log.read_text()[-3000:])
            raise


if __name__ == "__main__":
    main()
