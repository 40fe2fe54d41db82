"""Soak: mixed reads and writes for minutes against a gateway over the stand-ins, each in its own process, with one
org flapping and the gateway restarted in the middle; then every write is checked in the stand-ins themselves.

- Processes: the CTMS and both CRM orgs (`python -m emulators.ctms|crm`), the identity provider (`python -m
  emulators.idp`) and the gateway (`ccgw serve`: SQLite store, worker and incremental sync in
  process), as `bench/procs.py` starts them.
- Load (`bench/soak_load.py`): client threads at a steady rate, signed in as Clara Oswald (clinical lead) through the
  identity provider; writes retried with their idempotency key through outages and the restart.
- Flapping: org "eu" answers 503 to everything for `--down-s`, then normally for `--up-s`, over and over
  (`PUT /_admin/knobs` with `{"outage": "503"}`, then `{"outage": null}`).
- Restart: halfway, the gateway gets SIGTERM (it finishes its inline deliveries) and starts again on the same port
  over the same store.
- At the end the flapping stops and, within `--drain-s`, every activity the load created must be in the CTMS once,
  mirrored exactly once in each org with its current subject and date and SYNCED, and every call it logged in its
  org once with its Medical Activity in the CTMS once (`bench/soak_checks.py`).
- The gateway process's RSS and open file descriptors are sampled from /proc/<pid>/ every second; after warm-up
  (the first third of each of its two lifetimes) they may grow by at most `RSS_TOLERANCE_MIB` and
  `FD_TOLERANCE` (the median of the 10 s after warm-up against the median of its last 10 s).

Run: `python -m bench.soak [--minutes 10] [--rate 20] [--threads 4] [--down-s 10] [--up-s 20]`; it prints its
figures and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.proc_usage import Growth, Usage, growth
from bench.procs import Proc, Processes, exit_on_sigterm, free_port
from bench.soak_checks import Stores, check
from bench.soak_load import WRITE_TRIES, Load

RSS_TOLERANCE_MIB = 24
FD_TOLERANCE = 8
WRITER = "clara.oswald@ctms.example.com"
ADMIN = "ada.admin@ctms.example.com"
FLAPPING = "eu"


def knobs(server: Proc, **changes: object) -> None:
    httpx.put(server.url + "/_admin/knobs", json=changes, timeout=10).raise_for_status()


def matched_people(stores: Stores) -> list[str]:
    """CTMS people with exactly one account in each org (us by external id, eu by NPI number)."""
    people = stores.vql("SELECT id, external_id__v, npi_number__c FROM person__sys")
    us = Counter(a["External_ID_vod__c"] for a in stores.soql("us", "SELECT External_ID_vod__c FROM Account"))
    eu = Counter(a["NPI_Number__c"] for a in stores.soql("eu", "SELECT NPI_Number__c FROM Account"))
    return [p["id"] for p in people if us[p["external_id__v"]] == 1 and eu[p["npi_number__c"]] == 1]


class Flapper:
    """Turns an org's outage on and off until stopped; counts the outages."""

    def __init__(self, server: Proc, down_s: float, up_s: float) -> None:
        self.server, self.down_s, self.up_s = server, down_s, up_s
        self.outages = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        knobs(self.server, outage=None)

    def _run(self) -> None:
        while not self._stop.wait(self.up_s):
            knobs(self.server, outage="503")
            self.outages += 1
            if self._stop.wait(self.down_s):
                return
            knobs(self.server, outage=None)


def verdict_on_usage(label: str, usage: Usage, failures: list[str]) -> None:
    lifetime = usage.samples[-1].at if usage.samples else 0.0
    g: Growth | None = growth(usage.samples, warm_up_s=lifetime / 3)
    if g is None:
        failures.append(f"{label}: too few samples ({len(usage.samples)}) to tell growth")
        return
    rss_mib = g.rss_growth_kib / 1024
    print(f"  {label}: {g.samples} samples over {lifetime:.0f} s; after warm-up ({g.warm_up_s:.0f} s) RSS "
          f"{g.rss_after_warm_up_kib / 1024:.1f} MiB -> {g.rss_end_kib / 1024:.1f} MiB ({rss_mib:+.1f} MiB, "
          f"tolerance {RSS_TOLERANCE_MIB}), open fds {g.fds_after_warm_up:.0f} -> {g.fds_end:.0f} "
          f"({g.fds_growth:+.0f}, tolerance {FD_TOLERANCE})")
    if rss_mib > RSS_TOLERANCE_MIB:
        failures.append(f"{label}: RSS grew {rss_mib:.1f} MiB after warm-up")
    if g.fds_growth > FD_TOLERANCE:
        failures.append(f"{label}: open file descriptors grew by {g.fds_growth:.0f} after warm-up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, all threads together")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--down-s", type=float, default=10.0, help="each outage of the flapping org")
    parser.add_argument("--up-s", type=float, default=20.0, help="between outages")
    parser.add_argument("--drain-s", type=float, default=240.0, help="how long the mirrors get to settle at the end")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    exit_on_sigterm()
    sys.exit(run(args))


@dataclass
class Soaked:
    """The processes of one soak, and what it found wrong."""

    procs: Processes
    ctms: Proc
    orgs: dict[str, Proc]
    idp: Proc
    env: dict[str, str]
    port: int
    gateway: Proc
    stores: Stores
    failures: list[str] = field(default_factory=list)


def start(procs: Processes) -> Soaked:
    """The stand-ins, the identity provider and the gateway, each in its own process, with the demo connections."""
    from gateway.demo import configure, demo_secrets

    os.environ.update(demo_secrets({}))  # the stand-ins' credentials, for the gateways (inherited by processes)
    ctms, orgs = procs.stand_ins(people=40)
    idp = procs.start("idp", ["-m", "emulators.idp", "--port", str(port := free_port())], port,
                      probe="/.well-known/openid-configuration")
    procs.wait_ready(idp)
    database_url = f"sqlite:///{procs.dir / 'gateway.db'}"
    configure(database_url, orgs)
    env = {"CCGW_DATABASE_URL": database_url, "CCGW_CTMS_URL": ctms.url, "CCGW_OIDC_ISSUER": idp.url,
           "CCGW_RATE_LIMIT_PER_MINUTE": "0", "CCGW_CRM_TIMEOUT_S": "2", "CCGW_CTMS_TIMEOUT_S": "5"}
    gateway_port = free_port()
    gateway = procs.gateway(env, port=gateway_port, name="gateway-1")
    stores = Stores(ctms.url, {name: proc.url for name, proc in orgs.items()})
    return Soaked(procs, ctms, orgs, idp, env, gateway_port, gateway, stores)


def drive(soak: Soaked, load: Load, flapper: Flapper, duration: float) -> tuple[list[Usage], float]:
    """The load and the flapping for `duration` seconds, the gateway restarted halfway; its usage per lifetime
    and how long the restart took."""
    usages = [Usage(soak.gateway.popen.pid).start()]
    started = time.monotonic()
    load.start()
    flapper.start()
    time.sleep(duration / 2)
    usages[0].stop()
    t0 = time.monotonic()
    soak.procs.stop(soak.gateway, grace_s=30)
    soak.gateway = soak.procs.gateway(soak.env, port=soak.port, name="gateway-2")
    restart_s = time.monotonic() - t0
    usages.append(Usage(soak.gateway.popen.pid).start())
    time.sleep(max(0.0, duration - (time.monotonic() - started)))
    load.stop()
    flapper.stop()
    usages[1].stop()
    return usages, restart_s


def report_load(soak: Soaked, load: Load, flapper: Flapper, restart_s: float) -> None:
    print(f"load: {sum(load.tally.counts.values())} requests; gateway restart took {restart_s:.1f} s; "
          f"{flapper.outages} outages of {FLAPPING}; {len(load.written.activities)} activities created, "
          f"{len(load.written.calls)} calls logged, {len(load.written.lost)} writes never answered after "
          f"{WRITE_TRIES} tries, {len(load.written.abandoned)} still being retried when the load stopped")
    for outcome, n in sorted(load.tally.counts.items()):
        print(f"  {outcome}: {n}")
    server_errors = {k: n for k, n in load.tally.counts.items() if "HTTP 5" in k or "INTERNAL" in k}
    if server_errors:
        soak.failures.append(f"server errors: {server_errors}")
    if load.written.lost:  # outages last seconds: a write retried for WRITE_TRIES / 2 s should have gone through
        soak.failures.append(f"writes never answered: {load.written.lost[:5]}")
    refused = {k: n for k, n in load.tally.counts.items() if "user errors" in k}
    if refused:  # every write the load sends is valid: an outage must not be answered as the caller's mistake
        soak.failures.append(f"valid writes refused: {refused}")


def settle(soak: Soaked, load: Load, admin: httpx.Client, drain_s: float) -> None:
    """Check what the load wrote until it is all in place, or `drain_s` has passed."""
    t0 = time.monotonic()
    while True:
        verdict = check(soak.stores, load.written, admin)
        if not verdict.problems or time.monotonic() - t0 > drain_s:
            break
        time.sleep(2)
    print(f"mirrors: {verdict.activities} activities and {verdict.calls} calls of the soak found in the "
          f"stand-ins; settled in {time.monotonic() - t0:.0f} s; {len(verdict.problems)} problems")
    for problem in verdict.problems[:20]:
        print(f"  {problem}")
    soak.failures += verdict.problems[:20]


def run(args: argparse.Namespace) -> int:
    from gateway.tokens import fetch_token

    with Processes() as procs:
        soak = start(procs)
        people = matched_people(soak.stores)
        sites = [s["id"] for s in soak.stores.vql("SELECT id FROM site__v")]
        load = Load(soak.gateway.url, fetch_token(soak.idp.url, WRITER), people, sites, list(soak.orgs),
                    threads=args.threads, rate=args.rate, seed=args.seed)
        flapper = Flapper(soak.orgs[FLAPPING], args.down_s, args.up_s)
        duration = args.minutes * 60
        print(f"soak: {args.minutes:g} min at {args.rate:g} requests/s ({args.threads} threads), {len(people)} people "
              f"matched in both orgs, org {FLAPPING} down {args.down_s:g} s of every {args.down_s + args.up_s:g} s, "
              f"gateway restart at {duration / 2:.0f} s; logs in {procs.dir}", flush=True)
        usages, restart_s = drive(soak, load, flapper, duration)
        report_load(soak, load, flapper, restart_s)
        with httpx.Client(base_url=soak.gateway.url, timeout=60, headers={
                "Authorization": f"Bearer {fetch_token(soak.idp.url, ADMIN)}", "Accept": "application/json"}) as admin:
            settle(soak, load, admin, args.drain_s)
        print("gateway process:")
        for n, usage in enumerate(usages, 1):
            verdict_on_usage(f"lifetime {n}", usage, soak.failures)
        soak.stores.close()
        procs.stop(soak.gateway, grace_s=30)
    failures = soak.failures
    print("soak: OK" if not failures else f"soak: FAILED ({len(failures)}): " + "; ".join(failures[:10]))
    return 1 if failures else 0


if __name__ == "__main__":
    main()
