"""Throughput under load: the gateway and its Node peer (Apollo Server 5, bench/peer/) side by side, over the same
stand-ins, in alternating blocks.

Every server runs in its own process: the CTMS stand-in and the two CRM orgs (0 ms added latency unless
`--latency-ms`), the identity provider stand-in, the gateway (`ccgw serve`, SQLite store, no worker, JWT validated
against the provider, no rate limit) and the peer (`node bench/peer/server.mjs`: the same backend requests, the
same merge and the same JSON; it verifies the same JWT with `jose`). The load is closed-loop: `--connections`
connections (16) each send `person(id) { accounts, timeline(first: 20) { ... sync } }` for the next of 100 people
(round-robin) as soon as the previous answer is back, driven by wrk when it is installed, else by aiohttp in a
process of its own.

Printed (nothing asserted): requests/s, p50/p99, CPU ms per request of the server process(es) and of the three
stand-ins together (from /proc), backend calls per request, RSS; then the gateway with 1 and 2 processes
(`ccgw serve --processes N`); then 100 concurrent connections and the RSS of every process.

With `--baseline REV` a third server joins the alternating blocks: the gateway as this repository's code was at git
revision REV (exported with `git archive`), over the same stand-ins and store, so that a change is measured side by
side with what it changes, in one run. With `--persisted` those blocks send the query's hash alone (automatic
persisted queries, which the peer's Apollo Server takes too), registered once with each server. With
`--read-cache-s S` another server joins them: the gateway keeping the backends' answers S seconds
(`CCGW_READ_CACHE_S`); the 100 people come round every third of a second or so, so nearly every read is answered
from it. The comparison with the peer stays the uncached gateway's.

With `--python PATH` another joins them: this tree's gateway run by another interpreter (a virtualenv's python with
this project installed, e.g. `python3.13 -m venv v && v/bin/pip install -e .`), to measure what an interpreter
changes. With `--floor` the Python floor joins them (bench/floor.py: the peer's work written by hand in Python,
no GraphQL; not with `--persisted`): what a Python server on this stack needs at least for the same answers.

Run: `python -m bench.load [--seconds 6] [--rounds 2] [--latency-ms 0] [--people 2000] [--driver auto|wrk|aiohttp]
[--no-peer] [--baseline REV] [--python PATH] [--persisted] [--read-cache-s S] [--floor]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import cpu
from bench.load_client import LoadResult, have_wrk, run_load
from bench.peer_process import missing, peer_config, start_floor, start_peer
from bench.procs import Proc, Processes, baseline_tree, ccgw_serve, exit_on_sigterm, free_port
from emulators.seed import vault_id

QUERY = """query Timeline($id: ID!) { person(id: $id) { id firstName lastName
  accounts { connection { name } accountId name }
  timeline(first: 20) { edges { cursor node { __typename id kind date channel status owner subject
    sync { connection { name } state remoteId attempts lastError updatedAt } } }
    pageInfo { hasNextPage endCursor } } } }"""
PERSISTED = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(QUERY.encode()).hexdigest()}}
USER = "ada.admin@ctms.example.com"
PEER = "node peer"
FLOOR = "python floor"
CACHED = "gateway cached"


def global_person(n: int) -> str:
    import base64

    return base64.urlsafe_b64encode(f"Person:{vault_id('0PE', n)}".encode()).decode().rstrip("=")


def bodies(people: int = 100, persisted: bool = False) -> list[bytes]:
    """One request body per person: the query, or (`persisted`) only its hash, as an APQ client sends it."""
    asked = {"extensions": PERSISTED} if persisted else {"query": QUERY}
    return [json.dumps({**asked, "variables": {"id": global_person(n)}}).encode() for n in range(1, people + 1)]


def register(servers: list[Server], token: str) -> None:
    """Send every server the query with its hash once, as an APQ client does after its first miss."""
    body = {"query": QUERY, "extensions": PERSISTED, "variables": {"id": global_person(1)}}
    for server in servers:
        got = httpx.post(server.url + "/graphql", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        if got.status_code != 200 or got.json().get("errors"):
            raise RuntimeError(f"{server.name} did not take the persisted query: {got.text[:300]}")


@dataclass
class Server:
    """One side of the comparison: its root process (children count too) and URL."""

    name: str
    proc: Proc

    @property
    def url(self) -> str:
        return self.proc.url

    def pids(self) -> list[int]:
        return cpu.tree(self.proc.popen.pid)


@dataclass
class Block:
    server: str
    load: LoadResult
    server_cpu_ms: float  # per request
    backend_cpu_ms: float  # per request, the three stand-ins together
    backend_calls: float  # per request
    rss_mib: dict[int, float] = field(default_factory=dict)  # peak per process
    cpu_by_pid: dict[int, float] = field(default_factory=dict)  # seconds in the block per process


class PeakRss:
    """The peak RSS of each of some processes, sampled every 0.2 s in a thread while in use."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak = pids, dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], cpu.rss_mib(pid))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def backend_requests(stand_ins: dict[str, str]) -> int:
    return sum(httpx.get(url + "/_admin/stats", timeout=10).json().get("requests", 0) for url in stand_ins.values())


def measure(server: Server, stand_ins: dict[str, Proc], load: Callable[[str, int], LoadResult],
            connections: int) -> Block:
    """One block of load on `server`, with the CPU its processes and the stand-ins spent meanwhile."""
    pids = server.pids()
    backend_pids = [p.popen.pid for p in stand_ins.values()]
    urls = {k: p.url for k, p in stand_ins.items()}
    calls0 = backend_requests(urls)
    cpu0 = {p: cpu.cpu_seconds(p) for p in pids}
    backend0 = cpu.total_cpu(backend_pids)
    with PeakRss(pids) as rss:
        result = load(server.url, connections)
    cpu_by_pid = {p: cpu.cpu_seconds(p) - cpu0[p] for p in pids}
    backend_s = cpu.total_cpu(backend_pids) - backend0
    calls = backend_requests(urls) - calls0 - len(urls)  # the stats reads themselves are counted too
    n = max(result.requests, 1)
    return Block(server.name, result, sum(cpu_by_pid.values()) * 1000 / n, backend_s * 1000 / n, calls / n,
                 rss.peak, cpu_by_pid)


def check_answers(servers: list[Server], token: str, payloads: list[bytes]) -> tuple[int, int]:
    """Every payload answered without errors by every server; how many answers are the same JSON on all of them."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    same = 0
    with httpx.Client(timeout=30, headers=headers) as client:
        for payload in payloads:
            answers = []
            for server in servers:
                got = client.post(server.url + "/graphql", content=payload)
                body = got.json()
                if got.status_code != 200 or body.get("errors") or not body.get("data", {}).get("person"):
                    raise RuntimeError(f"{server.name} answered {got.status_code}: {got.text[:500]}")
                answers.append(body)
            same += all(a == answers[0] for a in answers)
    return same, len(payloads)


def start_gateway(procs: Processes, env: dict[str, str], processes: int, code: Path | None = None,
                  label: str = "", python: str | None = None) -> Proc:
    """`ccgw serve` with this tree's code, or with the code exported into `code` (`--baseline`); run by this
    interpreter or by `python` (`--python`)."""
    port = free_port()
    name = f"gateway-{processes}p" + ("-baseline" if code else "") + label
    proc = procs.start(name, ccgw_serve(port, "--no-worker", "--processes", str(processes),
                                        code=str(code) if code else None), port, env=env, probe="/healthz",
                       python=python)
    procs.wait_ready(proc, timeout_s=180)
    return proc


def python_version(python: str) -> str:
    """`3.13` for an interpreter that runs and has this project installed (`--python`); SystemExit otherwise."""
    try:
        done = subprocess.run([python, "-c", "import sys, gateway.cli; print(*sys.version_info[:2], sep='.')"],
                              capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    except OSError as exc:
        raise SystemExit(f"--python {python}: {exc.strerror}") from None
    if done.returncode != 0:
        raise SystemExit(f"--python {python}: cannot run the gateway (is the project installed for it?)")
    return done.stdout.strip()


def print_blocks(blocks: list[Block], header: bool = True) -> None:
    if header:
        print(f"{'server':<18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>11} {'stand-ins':>10} "
              f"{'calls/req':>9} {'errors':>7} {'max RSS MiB':>12}")
    for b in blocks:
        print(f"{b.server:<18} {b.load.rps:>8.0f} {b.load.p50_ms:>8.1f} {b.load.p99_ms:>8.1f} "
              f"{b.server_cpu_ms:>11.2f} {b.backend_cpu_ms:>10.2f} {b.backend_calls:>9.1f} {b.load.errors:>7} "
              f"{max(b.rss_mib.values(), default=0):>12.0f}")


def summary(blocks: list[Block], names: list[str]) -> None:
    print("\nmedian over the blocks:")
    medians = {}
    for name in names:
        mine = [b for b in blocks if b.server == name]
        medians[name] = (statistics.median(b.load.rps for b in mine), statistics.median(b.server_cpu_ms for b in mine))
        print(f"  {name:<18} {medians[name][0]:>7.0f} req/s  {medians[name][1]:>6.2f} CPU ms/req  "
              f"p50 {statistics.median(b.load.p50_ms for b in mine):.1f} ms  stand-ins "
              f"{statistics.median(b.backend_cpu_ms for b in mine):.2f} CPU ms/req")
    for other in names[1:]:
        (r0, c0), (r1, c1) = medians[names[0]], medians[other]
        goal = " (issue 9's goal: throughput >= 1.0x, CPU per request <= 1.0x)" if other == PEER else ""
        cheaper, rounds = cheaper_in(blocks, names[0], other)
        print(f"  {names[0]} / {other}: throughput {r0 / r1:.2f}x, CPU per request {c0 / c1:.2f}x; less CPU per "
              f"request in {cheaper} of {rounds} rounds{goal}")
    if CACHED in medians and PEER in medians:
        (r0, c0), (r1, c1) = medians[CACHED], medians[PEER]
        print(f"  {CACHED} / {PEER}: throughput {r0 / r1:.2f}x, CPU per request {c0 / c1:.2f}x (not issue 9's "
              "comparison: the peer reads its backends for every request)")


def cheaper_in(blocks: list[Block], first: str, other: str) -> tuple[int, int]:
    """In how many rounds (the n-th block of each) `first` spent less CPU per request than `other`: a count that
    the machine's drift over a run moves less than it moves the medians."""
    pairs = list(zip((b.server_cpu_ms for b in blocks if b.server == first),
                     (b.server_cpu_ms for b in blocks if b.server == other), strict=False))
    return sum(mine < theirs for mine, theirs in pairs), len(pairs)


def per_process(block: Block, procs: list[int]) -> str:
    return ", ".join(f"pid {p} {block.cpu_by_pid.get(p, 0):.1f} CPU s / {block.rss_mib.get(p, 0):.0f} MiB"
                     for p in procs)


def _start_backends(procs: Processes, args: argparse.Namespace) -> tuple[dict[str, Proc], Proc]:
    t0 = time.perf_counter()
    ctms, orgs = procs.stand_ins(args.people)
    port = free_port()
    idp = procs.start("idp", ["-m", "emulators.idp", "--port", str(port), "--token-ttl-s", "7200"], port)
    procs.wait_ready(idp)
    stand_ins = {"ctms": ctms, **{f"crm:{k}": v for k, v in orgs.items()}}
    for proc in stand_ins.values():
        httpx.put(f"{proc.url}/_admin/knobs", json={"latency_ms": args.latency_ms}).raise_for_status()
    print(f"stand-ins with {args.people} people and the identity provider started in "
          f"{time.perf_counter() - t0:.1f} s; +{args.latency_ms:g} ms at every stand-in")
    return stand_ins, idp


def _env(procs: Processes, stand_ins: dict[str, Proc], idp: Proc) -> tuple[dict[str, str], str]:
    from gateway.demo import configure, demo_secrets

    database_url = f"sqlite:///{procs.dir / 'gateway.db'}"
    configure(database_url, {k.removeprefix("crm:"): v for k, v in stand_ins.items() if k.startswith("crm:")})
    os.environ.update(demo_secrets(os.environ))
    return {"CCGW_DATABASE_URL": database_url, "CCGW_CTMS_URL": stand_ins["ctms"].url,
            "CCGW_OIDC_ISSUER": idp.url, "CCGW_RATE_LIMIT_PER_MINUTE": "0", "CCGW_POLL_INTERVAL_S": "0",
            "CCGW_LOG_FORMAT": "json"}, str(procs.dir / "gateway.db")


def alternate(servers: list[Server], stand_ins: dict[str, Proc], load: Callable[[str, int], LoadResult],
              rounds: int, connections: int) -> list[Block]:
    blocks = []
    for i in range(rounds):
        for server in servers if i % 2 == 0 else servers[::-1]:
            blocks.append(measure(server, stand_ins, load, connections))
            print_blocks(blocks[-1:], header=len(blocks) == 1)
    return blocks


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="length of one measured block")
    ap.add_argument("--rounds", type=int, default=2, help="blocks per server in the side-by-side comparison")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--latency-ms", type=float, default=0.0, help="added at every stand-in (0, or 20 as bench/)")
    ap.add_argument("--people", type=int, default=2000, help="size of the stand-ins' world")
    ap.add_argument("--driver", choices=["auto", "wrk", "aiohttp"], default="auto")
    ap.add_argument("--no-peer", action="store_true", help="the gateway only")
    ap.add_argument("--baseline", metavar="REV", help="also a gateway running this repository's code at git "
                                                      "revision REV, in the same alternating blocks")
    ap.add_argument("--python", metavar="PATH",
                    help="also the gateway run by another Python interpreter with this project installed (a "
                         "virtualenv's python), in the same alternating blocks")
    ap.add_argument("--persisted", action="store_true",
                    help="the side-by-side blocks send the query's hash alone (APQ), registered once per server")
    ap.add_argument("--read-cache-s", type=float, default=0.0, metavar="S",
                    help="also a gateway keeping the backends' answers S seconds (CCGW_READ_CACHE_S), in the same "
                         "alternating blocks")
    ap.add_argument("--others-first", action="store_true",
                    help="start the gateways compared with this tree's (--baseline, --python, --read-cache-s) before "
                         "it: the one started first may come out dearer, so a small change needs both orders")
    ap.add_argument("--floor", action="store_true", help="also the Python floor (bench/floor.py: the peer's work "
                    "written by hand in Python, no GraphQL), in the same alternating blocks")
    args = ap.parse_args()
    exit_on_sigterm()
    run(args)


def run(args: argparse.Namespace) -> None:
    from gateway.tokens import fetch_token

    if args.floor and args.persisted:
        raise SystemExit("--floor answers the full query only: not with --persisted")
    payloads = bodies(persisted=args.persisted)
    reason = "--no-peer" if args.no_peer else missing()
    with Processes() as procs:
        stand_ins, idp = _start_backends(procs, args)
        env, db_path = _env(procs, stand_ins, idp)
        token = fetch_token(idp.url, USER)
        servers, others = _servers(procs, env, args)
        config = peer_config(stand_ins["ctms"].url, {k.removeprefix("crm:"): v.url for k, v in stand_ins.items()
                                                     if k.startswith("crm:")}, db_path, idp.url)
        if args.floor:
            floor = Server(FLOOR, start_floor(procs, config))
            servers.append(floor)
            others.append(floor)
        if reason is None:
            servers.append(Server(PEER, start_peer(procs, config)))
        driver = args.driver if args.driver != "auto" else ("wrk" if have_wrk() else "aiohttp")
        print(f"load: {driver}, closed loop, 100 people round-robin; the gateway validates the JWT on every "
              "request" + (", and so does the peer (jose)" if reason is None else f"; no peer ({reason})"))
        print("the gateway writes one JSON log line per request (as `ccgw serve` does) and counts its metrics; the "
              "peer does neither. CPU: the server's processes; stand-ins: the three stand-ins together, per request")
        if args.persisted:
            register(servers, token)
            print("requests carry the query's SHA-256 alone (automatic persisted queries), registered once per server")
        same, total = check_answers(servers, token, payloads)
        if len(servers) > 1:
            print(f"same JSON from {', '.join(s.name for s in servers)} for {same} of {total} people")

        def load(url: str, connections: int, seconds: float = args.seconds) -> LoadResult:
            return run_load(url, payloads, connections, seconds, token, driver)

        for server in servers:  # warm-up: caches, connection pools, JIT
            load(server.url, args.connections, 2.0)
        print(f"\n{args.rounds} blocks of {args.seconds:g} s each, {args.connections} connections, alternating:")
        blocks = alternate(servers, stand_ins, load, args.rounds, args.connections)
        summary(blocks, [s.name for s in servers])
        for other in others:  # what follows measures this tree's gateway only
            procs.stop(other.proc)
            servers.remove(other)
        plain = bodies()  # a 2-process gateway keeps a persisted query per process: the full query from here on

        def load_plain(url: str, connections: int, seconds: float = args.seconds) -> LoadResult:
            return run_load(url, plain, connections, seconds, token, driver)

        cores(procs, env, servers, stand_ins, load_plain, args)


def _servers(procs: Processes, env: dict[str, str], args: argparse.Namespace) -> tuple[list[Server], list[Server]]:
    """This tree's gateway and the others compared with it, started in the order asked: the gateway started first
    has come out dearer by up to 9% in blocks of the same code (README), so a small change needs both orders."""
    if args.others_first:
        others = _others(procs, env, args)
        gateway = Server("gateway", start_gateway(procs, env, 1))
    else:
        gateway = Server("gateway", start_gateway(procs, env, 1))
        others = _others(procs, env, args)
    if others:
        print("started first: " + (", ".join(o.name for o in others) if args.others_first else "gateway"))
    return [gateway, *others], others


def _others(procs: Processes, env: dict[str, str], args: argparse.Namespace) -> list[Server]:
    """The gateways compared with this tree's in the alternating blocks: at another revision (`--baseline`), under
    another interpreter (`--python`), keeping the backends' answers (`--read-cache-s`)."""
    others = []
    if args.baseline:
        code = baseline_tree(args.baseline, procs.dir / "baseline")
        others.append(Server(f"gateway@{args.baseline}", start_gateway(procs, env, 1, code)))
    if args.python:
        version = python_version(args.python)
        others.append(Server(f"gateway@py{version}", start_gateway(procs, env, 1, label=f"-py{version}",
                                                                   python=args.python)))
    if args.read_cache_s > 0:
        others.append(Server(CACHED, start_gateway(procs, {**env, "CCGW_READ_CACHE_S": f"{args.read_cache_s:g}"}, 1,
                                                   label="-cached")))
    return others


def cores(procs: Processes, env: dict[str, str], servers: list[Server], stand_ins: dict[str, Proc],
          load: Callable[..., LoadResult], args: argparse.Namespace) -> None:
    """The gateway with 1 and 2 processes side by side in alternating blocks, then 100 concurrent connections on
    the 2-process gateway and the peer."""
    two = Server("gateway 2p", start_gateway(procs, env, 2))
    load(two.url, args.connections, 2.0)
    print(f"\nthe gateway with 1 and 2 processes (ccgw serve --processes 2), {args.connections} connections, "
          "alternating:")
    blocks = alternate([servers[0], two], stand_ins, load, args.rounds, args.connections)
    last_two = next(b for b in reversed(blocks) if b.server == two.name)
    workers = [p for p in two.pids() if p != two.proc.popen.pid and last_two.cpu_by_pid.get(p, 0) > 0.05]
    print(f"  per process in the last block: {per_process(last_two, workers)}")
    rps = {name: statistics.median(b.load.rps for b in blocks if b.server == name) for name in ("gateway", two.name)}
    print(f"  throughput: 1 process {rps['gateway']:.0f} req/s, 2 processes {rps[two.name]:.0f} req/s "
          "(2 cores shared with the stand-ins and the load generator)")
    procs.stop(servers[0].proc)
    wide_s = max(10.0, 2 * args.seconds)  # what is still in flight at the end counts for less
    print(f"\n100 concurrent connections, {wide_s:g} s each (per-request figures count the calls and CPU of the "
          "up to 100 requests still in flight at the end):")
    wide = [measure(s, stand_ins, lambda url, n: load(url, n, wide_s), 100) for s in [two, *servers[1:]]]
    print_blocks(wide)
    for s, b in zip([two, *servers[1:]], wide, strict=True):
        print(f"  {s.name}: RSS per process (peak): "
              + ", ".join(f"{role(p, s.proc.popen.pid)} {b.rss_mib[p]:.0f} MiB" for p in b.rss_mib if b.rss_mib[p] > 0))


def role(pid: int, root: int) -> str:
    """What a process of a server's tree is, for the RSS lines."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    if "resource_tracker" in cmdline:
        return "multiprocessing's resource tracker"
    if pid == root:
        return "supervisor" if cpu.children(pid) else "server"
    return "server"


if __name__ == "__main__":
    main()
