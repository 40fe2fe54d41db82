"""Which way to serve the gateway on every core: one uvicorn process, `uvicorn --workers 2`, `granian --workers 2`
(when installed) and `ccgw serve --processes 2` (one SO_REUSEPORT socket per process), measured on the load of
`bench.load` (stand-ins at 0 ms, 16 connections, 100 people round-robin, JWT validated).

For each: requests/s, p50/p99 and CPU ms per request under load; the share of the CPU each process took (an even
split means the connections were balanced); and p50 of one connection sending one request at a time (a server
whose accepted sockets lack TCP_NODELAY shows the 40 ms of a delayed ACK there). Then the same with `{ viewer }`,
which calls no backend: on 2 cores the timeline's stand-ins take as much CPU as the gateway, so only a load that is
the server's alone shows what a second process adds. All log one JSON line per request, as `ccgw serve` does.
Nothing is asserted.

Run: `python -m bench.servers [--seconds 6] [--people 2000]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable

from bench.load import Block, Server, _env, _start_backends, bodies, measure, print_blocks
from bench.load_client import LoadResult, run_load
from bench.procs import Processes, exit_on_sigterm, free_port

FACTORY = "bench.asgi:app"
VIEWER = "{ viewer { name email permissions } }"


def options(port: int) -> dict[str, list[str]]:
    found = {
        "uvicorn, 1 process": ["-m", "uvicorn", "--factory", FACTORY, "--port", str(port), "--log-level", "warning",
                               "--no-access-log"],
        "uvicorn --workers 2": ["-m", "uvicorn", "--factory", FACTORY, "--port", str(port), "--workers", "2",
                                "--log-level", "warning", "--no-access-log"],
        "ccgw serve --processes 2": ["-c", "from gateway.cli import app; app()", "serve", "--port", str(port),
                                     "--no-worker", "--processes", "2"],
    }
    if shutil.which("granian") or _importable("granian"):
        found["granian --workers 2"] = ["-m", "granian", "--interface", "asgi", "--factory", "--port", str(port),
                                        "--workers", "2", "--log-level", "warning", "--no-access-log", FACTORY]
    return found


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def single_p50(url: str, payloads: list[bytes], token: str) -> float:
    """p50 of one connection, one request at a time, for 3 s."""
    result = run_load(url, payloads, 1, 3.0, token)
    return result.p50_ms


def split(block: Block) -> str:
    busy = sorted((s for s in block.cpu_by_pid.values() if s > 0.05), reverse=True)
    total = sum(busy) or 1.0
    return " / ".join(f"{s / total:.0%}" for s in busy)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--workload", choices=["both", "timeline", "viewer"], default="both")
    args = ap.parse_args()
    exit_on_sigterm()
    from gateway.tokens import fetch_token

    payloads = bodies()
    with Processes() as procs:
        stand_ins, idp = _start_backends(procs, args)
        env, _ = _env(procs, stand_ins, idp)
        env = {**env, "CCGW_WORKER": "false"}
        token = fetch_token(idp.url, "ada.admin@ctms.example.com")

        def load(url: str, connections: int, seconds: float = args.seconds) -> LoadResult:
            return run_load(url, payloads, connections, seconds, token)

        servers = start_all(procs, env)
        for server in servers:
            load(server.url, 16, 2.0)
        print(f"all {len(servers)} servers running side by side; {args.rounds} rounds of one {args.seconds:g} s "
              "block each, in rotating order:")
        blocks = rotate(servers, stand_ins, load, args.rounds) if args.workload != "viewer" else {}
        single = {s.name: single_p50(s.url, payloads, token) for s in servers} if blocks else None
        print(f"\n`{VIEWER}` (no backend call: the server alone is the load):")

        def light(url: str, connections: int) -> LoadResult:
            return run_load(url, [json.dumps({"query": VIEWER}).encode()], connections, args.seconds, token)

        viewer = rotate(servers, stand_ins, light, args.rounds) if args.workload != "timeline" else {}
    for title, found, one in (("the timeline query", blocks, single), (f"`{VIEWER}`", viewer, None)):
        if found:
            print(f"\nsummary (medians), {title}:")
            report(found, one)


def rotate(servers: list[Server], stand_ins: dict, load: Callable[[str, int], LoadResult],
           rounds: int) -> dict[str, list[Block]]:
    """`rounds` blocks per server, the order rotating each round, so that drifting machine load hits all."""
    blocks: dict[str, list[Block]] = {s.name: [] for s in servers}
    for i in range(rounds):
        for server in servers[i % len(servers):] + servers[:i % len(servers)]:
            blocks[server.name].append(measure(server, stand_ins, load, 16))
            print_blocks(blocks[server.name][-1:], header=i == 0 and server is servers[i % len(servers)])
    return blocks


def start_all(procs: Processes, env: dict[str, str]) -> list[Server]:
    servers = []
    for name in options(0):
        cmd = options(port := free_port())[name]
        label = name.split(",")[0].replace(" ", "").replace("-", "")
        servers.append(Server(name, procs.start(label, cmd, port, env=env, probe="/healthz")))
    procs.wait_ready(*(s.proc for s in servers), timeout_s=180)
    time.sleep(2.0)  # every worker up, not only the first that answered
    return servers


def report(blocks: dict[str, list[Block]], single: dict[str, float] | None) -> None:
    print(f"{'server':<26} {'req/s':>7} {'p50 ms':>7} {'cpu ms/req':>10} {'1-conn p50':>10}  CPU split")
    for name, mine in blocks.items():
        one = f"{single[name]:>10.1f}" if single else f"{'':>10}"
        print(f"{name:<26} {statistics.median(b.load.rps for b in mine):>7.0f} "
              f"{statistics.median(b.load.p50_ms for b in mine):>7.1f} "
              f"{statistics.median(b.server_cpu_ms for b in mine):>10.2f} {one}  {split(mine[-1])}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
