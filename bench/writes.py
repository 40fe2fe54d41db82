"""Write-path figures.

The CTMS stand-in and the two CRM orgs each run in their own process (`python -m emulators.ctms|crm`), so their CPU
time is not counted against the gateway's.

(a) Outbox drain: 5,000 clinical activities seeded in the CTMS for people matched in org "us", their mirrors planned
    in the store, the org at 20 ms latency with its request counts reset; delivery runs until nothing is pending.
    Delivery is driven from this process (the `deliver_due` loop the worker runs, with nothing else in the process).
    Prints the CRM calls it used (target: at most 30) and the seconds it took.
(b) createClinicalActivity p50 over ~50 creates through the gateway in its own process (`ccgw serve`, no worker,
    inline delivery to both orgs; all stand-ins at 20 ms) versus the p50 of what it cannot avoid, measured directly
    against the stand-ins in the same run: one CTMS record POST plus the slower of the two orgs' interaction upserts
    (sent concurrently). Gateway creates and direct writes alternate in blocks, with the same client (httpx) for
    both, so machine noise hits both. Also prints the gateway's CPU per create. With `--baseline REV` a second
    gateway, running this repository's code at git revision REV with a store of its own, joins the blocks (in
    rotating order), so that a change is measured side by side with the code it changes.

Run: `python -m bench.writes [--activities 5000] [--creates 50] [--block 10] [--latency-ms 20] [--baseline REV]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import httpx

from bench.procs import Proc, Processes, baseline_tree, exit_on_sigterm
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS

CTMS_V = "/api/v26.1"
DIRECT = "direct"
CRM_V = "/services/data/v66.0"
SITE = "0SI000000000001"
CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { id sync { connection { name } state } } userErrors { code message } } }"""


def gid(type_name: str, raw: str) -> str:
    import base64
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def knobs(server: Proc, **changes: object) -> None:
    httpx.put(server.url + "/_admin/knobs", json=changes).raise_for_status()


def vault(server: Proc) -> httpx.Client:
    client = httpx.Client(base_url=server.url + CTMS_V, timeout=60)
    client.headers["Authorization"] = client.post("/auth", data=CTMS_CREDENTIALS).json()["sessionId"]
    return client


def salesforce(server: Proc) -> httpx.Client:
    form = {"grant_type": "client_credentials", "client_id": CRM_CREDENTIALS["client_id"],
            "client_secret": CRM_CREDENTIALS["client_secret"]}
    token = httpx.post(f"{server.url}/services/oauth2/token", data=form).json()["access_token"]
    return httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {token}"})


def soql(client: httpx.Client, q: str) -> list[dict]:
    body = client.get(f"{CRM_V}/query", params={"q": q}).json()
    out = list(body["records"])
    while not body.get("done", True):
        body = client.get(body["nextRecordsUrl"]).json()
        out += body["records"]
    return out


def us_matches(ctms: httpx.Client, us: httpx.Client) -> dict[str, str]:
    """CTMS person id -> their single us account id (the CONFLICT person left out)."""
    people = ctms.post("/query", data={"q": "SELECT id, external_id__v FROM person__sys"}).json()["data"]
    accounts: dict[str, list[str]] = {}
    for a in soql(us, "SELECT Id, External_ID_vod__c FROM Account"):
        accounts.setdefault(a["External_ID_vod__c"], []).append(a["Id"])
    return {p["id"]: accounts[p["external_id__v"]][0] for p in people
            if len(accounts.get(p["external_id__v"], [])) == 1}


def drain(ctms_server: Proc, us_server: Proc, settings, n: int, latency_ms: float) -> None:
    from datasources.store.repo import MirrorPlan
    from gateway.app import build_services
    from resolvers import delivery

    ctms, us = vault(ctms_server), salesforce(us_server)
    matches = us_matches(ctms, us)
    people = sorted(matches)
    day = (date.today() - timedelta(days=1)).isoformat()
    ids: list[tuple[str, str]] = []
    for start in range(0, n, 500):
        recs = [{"object_type__v.api_name__v": "clinical_activity__v", "person__v": people[i % len(people)],
                 "site__v": SITE, "activity_date__v": day, "channel__v": "phone__v", "completed__v": True,
                 "subject__v": f"bench {i}", "owner__v": "Clara Oswald (clara.oswald@ctms.example.com)"}
                for i in range(start, min(n, start + 500))]
        body = ctms.post("/vobjects/crm_activity__v", json=recs).json()
        assert body["responseStatus"] == "SUCCESS", body
        ids += [(r["data"]["id"], rec["person__v"]) for r, rec in zip(body["data"], recs, strict=True)]

    async def run() -> tuple[int, float]:
        services = build_services(settings)
        try:
            for aid, person in ids:
                await services.store.plan_mirrors("clinical", aid, person, [MirrorPlan("us", match_id=matches[person])])
            assert await services.store.pending_count("us") == n
            async with httpx.AsyncClient(base_url=us_server.url + "/_admin") as admin:
                (await admin.put("/knobs", json={"latency_ms": latency_ms})).raise_for_status()
                (await admin.delete("/stats")).raise_for_status()
            t0 = time.perf_counter()
            while await delivery.deliver_due(services, worker="bench", target="us") > 0:
                pass
            took = time.perf_counter() - t0
            assert await services.store.pending_count("us") == 0
            async with httpx.AsyncClient(base_url=us_server.url + "/_admin") as admin:
                return (await admin.get("/stats")).json().get("requests", 0), took
        finally:
            await services.backends.close()
            await services.store.engine.dispose()

    calls, took = asyncio.run(run())
    knobs(us_server, latency_ms=0)
    synced = soql(us, "SELECT Vault_Activity_Id_vod__c FROM Vault_Clinical_Interaction_vod__c")
    delivered = len({r["Vault_Activity_Id_vod__c"] for r in synced} & {a for a, _ in ids})
    print(f"(a) drain of {n} pending mirrors to org us at {latency_ms:g} ms: {calls} CRM calls (target <= 30), "
          f"{took:.2f} s, {delivered} interactions in the org [delivery driven in the bench process; "
          f"the org in its own]")


def creates(ctms_server: Proc, orgs: dict[str, Proc], gateways: dict[str, Proc], n: int, block: int,
            latency_ms: float) -> None:
    ctms, crm = vault(ctms_server), {name: salesforce(s) for name, s in orgs.items()}
    person = "0PE000000000003"  # matched in both orgs
    us_acc, eu_acc = (us_matches(ctms, crm["us"])[person],
                      soql(crm["eu"], "SELECT Id FROM Account WHERE NPI_Number__c = '"
                           + ctms.post("/query", data={"q": f"SELECT npi_number__c FROM person__sys WHERE id = "
                                                            f"'{person}'"}).json()["data"][0]["npi_number__c"]
                           + "'")[0]["Id"])
    accounts = {"us": us_acc, "eu": eu_acc}
    day = (date.today() - timedelta(days=1)).isoformat()
    pool = ThreadPoolExecutor(2)
    try:
        for server in [ctms_server, *orgs.values()]:
            knobs(server, latency_ms=latency_ms)
        inp = {"personId": gid("Person", person), "context": {"studySiteId": gid("StudySite", SITE)}, "date": day,
               "channel": "PHONE", "completed": True}
        times: dict[str, list[float]] = {name: [] for name in [*gateways, DIRECT]}

        def via(name: str, gw: Proc) -> Callable[[int], None]:
            client = httpx.Client(base_url=gw.url, timeout=60)

            def create(i: int) -> None:
                t0 = time.perf_counter()
                body = client.post("/graphql", json={"query": CREATE, "variables": {"input": {
                    **inp, "subject": f"p50 {i}", "idempotencyKey": uuid.uuid4().hex}}}).json()
                times[name].append((time.perf_counter() - t0) * 1000)
                sync = body["data"]["createClinicalActivity"]["activity"]["sync"]
                assert {s["state"] for s in sync} == {"SYNCED"}, body
            return create

        def direct(i: int) -> None:
            rec = {"object_type__v.api_name__v": "clinical_activity__v", "person__v": person, "site__v": SITE,
                   "activity_date__v": day, "channel__v": "phone__v", "completed__v": True,
                   "subject__v": f"direct {i}"}
            t0 = time.perf_counter()
            r = ctms.post("/vobjects/crm_activity__v", json=[rec]).json()
            aid = r["data"][0]["data"]["id"]

            def upsert(org: str) -> None:
                crm[org].patch(f"{CRM_V}/sobjects/Vault_Clinical_Interaction_vod__c/Vault_Activity_Id_vod__c/{aid}",
                               json={"Account_vod__c": accounts[org], "Interaction_Date_vod__c": day,
                                     "Status_vod__c": "Submitted_vod", "Channel_vod__c": "Phone_vod"}
                               ).raise_for_status()
            list(pool.map(upsert, ["us", "eu"]))
            times[DIRECT].append((time.perf_counter() - t0) * 1000)

        runs = {name: via(name, gw) for name, gw in gateways.items()}
        runs[DIRECT] = direct
        for run in runs.values():
            run(-1)  # warm-up
        for samples in times.values():
            samples.clear()
        cpu0 = {name: cpu_s(gw.popen.pid) for name, gw in gateways.items()}  # idle outside their blocks
        done = 0
        names = list(runs)
        for b in range((n + block - 1) // block):
            k = min(block, n - done)
            for name in names[b % len(names):] + names[:b % len(names)]:  # rotating order
                for i in range(done, done + k):
                    runs[name](i)
            done += k
        report(times, {name: (cpu_s(gw.popen.pid) - cpu0[name]) * 1000 / n for name, gw in gateways.items()},
               n, block, latency_ms)
    finally:
        pool.shutdown()
        for server in [ctms_server, *orgs.values()]:
            knobs(server, latency_ms=0)


def report(times: dict[str, list[float]], cpu_ms: dict[str, float], n: int, block: int, latency_ms: float) -> None:
    d = statistics.median(times[DIRECT])
    for name, per_create in cpu_ms.items():
        g = statistics.median(times[name])
        print(f"(b) createClinicalActivity p50 over {n} ({name}): {g:.1f} ms; CTMS write + slowest org write, "
              f"direct: p50 {d:.1f} ms; overhead {g - d:.1f} ms ({g / d:.2f}x, target <= 1.15x), stand-ins at "
              f"{latency_ms:g} ms; gateway CPU {per_create:.1f} ms per create [gateway in its own process; "
              f"blocks of {block} in rotating order]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=5000)
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--block", type=int, default=10, help="creates per alternating block")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--baseline", metavar="REV", help="also a gateway running this repository's code at git "
                        "revision REV (its own store), in the same rotating blocks")
    args = parser.parse_args()
    exit_on_sigterm()

    from gateway.demo import configure, demo_secrets
    from gateway.settings import Settings

    os.environ.update(demo_secrets({}))  # the stand-ins' credentials, for the gateways (inherited by processes)
    with Processes() as procs:
        ctms_server, orgs = procs.stand_ins(people=40)
        database_url = f"sqlite:///{procs.dir / 'gateway.db'}"
        settings = Settings(database_url=database_url, ctms_url=ctms_server.url, poll_interval_s=0.0,
                            ctms_timeout_s=30.0, crm_timeout_s=30.0)
        configure(settings.database_url, orgs)
        drain(ctms_server, orgs["us"], settings, args.activities, args.latency_ms)
        gateways = {"gateway": gateway(procs, database_url, ctms_server)}
        if args.baseline:
            code = baseline_tree(args.baseline, procs.dir / "baseline")
            other = f"sqlite:///{procs.dir / 'baseline.db'}"
            configure(other, orgs)
            gateways[f"gateway@{args.baseline}"] = gateway(procs, other, ctms_server, code)
        creates(ctms_server, orgs, gateways, args.creates, args.block, args.latency_ms)


def gateway(procs: Processes, database_url: str, ctms_server: Proc, code: Path | None = None) -> Proc:
    """`ccgw serve` for the creates: no worker (delivery inline, within 30 s), no polling; this tree's code or
    that exported into `code`."""
    return procs.gateway({"CCGW_DATABASE_URL": database_url, "CCGW_CTMS_URL": ctms_server.url,
                          "CCGW_POLL_INTERVAL_S": "0", "CCGW_CTMS_TIMEOUT_S": "30", "CCGW_CRM_TIMEOUT_S": "30",
                          "CCGW_WORKER": "false", "CCGW_INLINE_DELIVERY_S": "30"},
                         name="gateway-baseline" if code else "gateway", code=code)


if __name__ == "__main__":
    main()
