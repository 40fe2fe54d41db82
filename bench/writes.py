"""Write-path figures.

(a) Outbox drain: 5,000 clinical activities seeded in the CTMS for people matched in org "us", their mirrors planned
    in the store, the org at 20 ms latency with its request counts reset; delivery runs until nothing is pending.
    Prints the CRM calls it used (target: at most 30) and the seconds it took.
(b) createClinicalActivity p50 over ~50 creates (all stand-ins at 20 ms, inline delivery to both orgs) versus the p50
    of what it cannot avoid, measured directly against the stand-ins in the same run: one CTMS record POST plus the
    slower of the two orgs' interaction upserts (sent concurrently).

Run: `python -m bench.writes [--activities 5000] [--creates 50] [--latency-ms 20]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import httpx

from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS
from emulators.server import EmulatorServer

CTMS_V = "/api/v26.1"
CRM_V = "/services/data/v66.0"
SITE = "0SI000000000001"
CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { id sync { connection { name } state } } userErrors { code message } } }"""


def gid(type_name: str, raw: str) -> str:
    import base64
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


def knobs(server: EmulatorServer, **changes: object) -> None:
    httpx.put(server.url + "/_admin/knobs", json=changes).raise_for_status()


def vault(server: EmulatorServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url + CTMS_V, timeout=60)
    client.headers["Authorization"] = client.post("/auth", data=CTMS_CREDENTIALS).json()["sessionId"]
    return client


def salesforce(server: EmulatorServer) -> httpx.Client:
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


def drain(ctms_server: EmulatorServer, us_server: EmulatorServer, settings, n: int, latency_ms: float) -> None:
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
          f"{took:.2f} s, {delivered} interactions in the org")


def creates(ctms_server: EmulatorServer, orgs: dict[str, EmulatorServer], settings, n: int,
            latency_ms: float) -> None:
    from gateway.app import create_app

    gw = EmulatorServer(create_app(replace(settings, worker=False, inline_delivery_s=30.0))).start()
    ctms, crm = vault(ctms_server), {name: salesforce(s) for name, s in orgs.items()}
    person = "0PE000000000003"  # matched in both orgs
    us_acc, eu_acc = (us_matches(ctms, crm["us"])[person],
                      soql(crm["eu"], "SELECT Id FROM Account WHERE NPI_Number__c = '"
                           + ctms.post("/query", data={"q": f"SELECT npi_number__c FROM person__sys WHERE id = "
                                                            f"'{person}'"}).json()["data"][0]["npi_number__c"]
                           + "'")[0]["Id"])
    accounts = {"us": us_acc, "eu": eu_acc}
    day = (date.today() - timedelta(days=1)).isoformat()
    try:
        for server in [ctms_server, *orgs.values()]:
            knobs(server, latency_ms=latency_ms)
        client = httpx.Client(base_url=gw.url, timeout=60)
        inp = {"personId": gid("Person", person), "context": {"studySiteId": gid("StudySite", SITE)}, "date": day,
               "channel": "PHONE", "completed": True}
        client.post("/graphql", json={"query": CREATE, "variables": {"input": {**inp, "subject": "warm-up"}}})
        gateway_ms: list[float] = []
        for i in range(n):
            t0 = time.perf_counter()
            body = client.post("/graphql", json={"query": CREATE, "variables": {"input": {
                **inp, "subject": f"p50 {i}", "idempotencyKey": uuid.uuid4().hex}}}).json()
            gateway_ms.append((time.perf_counter() - t0) * 1000)
            sync = body["data"]["createClinicalActivity"]["activity"]["sync"]
            assert {s["state"] for s in sync} == {"SYNCED"}, body
        direct_ms: list[float] = []
        pool = ThreadPoolExecutor(2)
        for i in range(n):
            rec = {"object_type__v.api_name__v": "clinical_activity__v", "person__v": person, "site__v": SITE,
                   "activity_date__v": day, "channel__v": "phone__v", "completed__v": True,
                   "subject__v": f"direct {i}"}
            t0 = time.perf_counter()
            r = ctms.post("/vobjects/crm_activity__v", json=[rec]).json()
            aid = r["data"][0]["data"]["id"]

            def upsert(org: str, aid: str = aid) -> None:
                crm[org].patch(f"{CRM_V}/sobjects/Vault_Clinical_Interaction_vod__c/Vault_Activity_Id_vod__c/{aid}",
                               json={"Account_vod__c": accounts[org], "Interaction_Date_vod__c": day,
                                     "Status_vod__c": "Submitted_vod", "Channel_vod__c": "Phone_vod"}
                               ).raise_for_status()
            list(pool.map(upsert, ["us", "eu"]))
            direct_ms.append((time.perf_counter() - t0) * 1000)
        g, d = statistics.median(gateway_ms), statistics.median(direct_ms)
        print(f"(b) createClinicalActivity p50 over {n}: {g:.1f} ms; CTMS write + slowest org write, direct: "
              f"p50 {d:.1f} ms; overhead {g - d:.1f} ms ({g / d:.2f}x), stand-ins at {latency_ms:g} ms")
    finally:
        for server in [ctms_server, *orgs.values()]:
            knobs(server, latency_ms=0)
        gw.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=5000)
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    from gateway.demo import configure, start_stand_ins
    from gateway.settings import Settings

    os.environ["CCGW_CTMS_USERNAME"] = CTMS_CREDENTIALS["username"]
    os.environ["CCGW_CTMS_PASSWORD"] = CTMS_CREDENTIALS["password"]
    ctms_server, orgs = start_stand_ins(None, people=40)
    try:
        db = Path(tempfile.mkdtemp(prefix="ccgw-bench-")) / "gateway.db"
        settings = Settings(database_url=f"sqlite:///{db}", ctms_url=ctms_server.url, poll_interval_s=0.0,
                            ctms_timeout_s=30.0, crm_timeout_s=30.0)
        configure(settings.database_url, orgs)
        drain(ctms_server, orgs["us"], settings, args.activities, args.latency_ms)
        creates(ctms_server, orgs, settings, args.creates, args.latency_ms)
    finally:
        for server in [ctms_server, *orgs.values()]:
            server.stop()


if __name__ == "__main__":
    main()
