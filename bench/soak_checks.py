"""The soak's final checks, read from the stand-ins directly (and each mirror's state from the gateway): every
activity the load created is in the CTMS once, mirrored exactly once in each org with its current subject and date,
and SYNCED there; every call it logged is in its org once and its Medical Activity in the CTMS once, SYNCED."""

from __future__ import annotations

import base64
import re
from collections import Counter
from dataclasses import dataclass

import httpx

from bench.soak_load import Written
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS

CTMS_V = "/api/v26.1"
CRM_V = "/services/data/v66.0"
KEY = re.compile(r"^soak (soak-[0-9a-f]{16})\b")
CALL_KEY = re.compile(r"^soak (soak-call-[0-9a-f]{16})$")


def _gid(type_name: str, raw: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


class Stores:
    """The CTMS and the orgs, read over their REST APIs."""

    def __init__(self, ctms_url: str, org_urls: dict[str, str]) -> None:
        self.vault = httpx.Client(base_url=ctms_url + CTMS_V, timeout=60)
        self.vault.headers["Authorization"] = self.vault.post("/auth", data=CTMS_CREDENTIALS).json()["sessionId"]
        self.orgs: dict[str, httpx.Client] = {}
        for org, url in org_urls.items():
            form = {"grant_type": "client_credentials", "client_id": CRM_CREDENTIALS["client_id"],
                    "client_secret": CRM_CREDENTIALS["client_secret"]}
            token = httpx.post(f"{url}/services/oauth2/token", data=form).json()["access_token"]
            self.orgs[org] = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"})

    def vql(self, q: str) -> list[dict]:
        body = self.vault.post("/query", data={"q": q}).json()
        assert body["responseStatus"] == "SUCCESS", body
        rows = list(body["data"])
        while body.get("responseDetails", {}).get("next_page"):
            body = self.vault.get(body["responseDetails"]["next_page"].removeprefix(CTMS_V)).json()
            rows += body["data"]
        return rows

    def soql(self, org: str, q: str) -> list[dict]:
        body = self.orgs[org].get(f"{CRM_V}/query", params={"q": q}).json()
        rows = list(body["records"])
        while not body.get("done", True):
            body = self.orgs[org].get(body["nextRecordsUrl"]).json()
            rows += body["records"]
        return rows

    def close(self) -> None:
        for client in [self.vault, *self.orgs.values()]:
            client.close()


@dataclass
class Verdict:
    activities: int  # soak activities found in the CTMS
    calls: int  # soak calls found in the orgs
    problems: list[str]


def check(stores: Stores, written: Written, gql: httpx.Client) -> Verdict:
    """Everything the soak wrote, as it stands now; `gql` is the gateway with an admin's token."""
    rows = stores.vql("SELECT id, subject__v, activity_date__v, crm_org__v, crm_call_id__v FROM crm_activity__v")
    ours = {r["id"]: r for r in rows if KEY.match(r["subject__v"] or "")}
    calls = {(org, c["Id"]): CALL_KEY.match(c["Subject_vod__c"] or "")[1] for org in stores.orgs
             for c in stores.soql(org, "SELECT Id, Subject_vod__c FROM Call2_vod__c")
             if CALL_KEY.match(c["Subject_vod__c"] or "")}
    problems = _activities(ours, written) + _mirrors(stores, ours) + _calls(calls, rows, written)
    ids = [_gid("ClinicalActivity", a) for a in sorted(ours)] + [_gid("MedicalActivity", f"{o}:{c}")
                                                                 for o, c in sorted(calls)]
    problems += [f"{gid}: {states}" for gid, states in _states(gql, ids).items()
                 if not states or set(states.values()) != {"SYNCED"}]
    return Verdict(len(ours), len(calls), problems)


def _activities(ours: dict[str, dict], written: Written) -> list[str]:
    """Each created once, and holding the subject its last update answered."""
    per_key = Counter(KEY.match(r["subject__v"])[1] for r in ours.values())
    problems = [f"activity {k} is in the CTMS {n} times" for k, n in per_key.items() if n > 1]
    for key, aid in written.activities.items():
        if aid not in ours:
            problems.append(f"activity {aid} ({key}) answered as created is not in the CTMS")
        elif aid not in written.unsure and ours[aid]["subject__v"] != written.subjects[aid]:
            problems.append(f"activity {aid}: the CTMS has {ours[aid]['subject__v']!r}, the last update "
                            f"answered {written.subjects[aid]!r}")
    return problems


def _mirrors(stores: Stores, ours: dict[str, dict]) -> list[str]:
    """Each activity mirrored exactly once in each org, with the CTMS's subject and date."""
    problems = []
    for org in stores.orgs:
        mirrors: dict[str, list[dict]] = {}
        for m in stores.soql(org, "SELECT Vault_Activity_Id_vod__c, Subject_vod__c, Interaction_Date_vod__c "
                                  "FROM Vault_Clinical_Interaction_vod__c"):
            mirrors.setdefault(m["Vault_Activity_Id_vod__c"], []).append(m)
        for aid, row in ours.items():
            found = mirrors.get(aid, [])
            if len(found) != 1:
                problems.append(f"activity {aid} has {len(found)} mirrors in {org}")
            elif (found[0]["Subject_vod__c"], found[0]["Interaction_Date_vod__c"]) != (row["subject__v"],
                                                                                        row["activity_date__v"]):
                problems.append(f"activity {aid}'s mirror in {org} holds {found[0]['Subject_vod__c']!r} "
                                f"{found[0]['Interaction_Date_vod__c']}, the CTMS {row['subject__v']!r} "
                                f"{row['activity_date__v']}")
    return problems


def _calls(calls: dict[tuple[str, str], str], rows: list[dict], written: Written) -> list[str]:
    """Each call logged once in its org, and its Medical Activity in the CTMS once."""
    problems = [f"call {k} is in its org {n} times" for k, n in Counter(calls.values()).items() if n > 1]
    problems += [f"call {org}:{c} ({k}) answered as logged is not in {org}" for k, (org, c) in written.calls.items()
                 if (org, c) not in calls]
    medical = Counter((r["crm_org__v"], r["crm_call_id__v"]) for r in rows if r["crm_call_id__v"])
    return problems + [f"call {org}:{c} has {medical[(org, c)]} Medical Activities in the CTMS" for org, c in calls
                       if medical[(org, c)] != 1]


def _states(gql: httpx.Client, ids: list[str], batch: int = 25) -> dict[str, dict[str | None, str]]:
    out: dict[str, dict[str | None, str]] = {}
    fragment = "sync { connection { name } state }"
    for start in range(0, len(ids), batch):
        part = ids[start:start + batch]
        query = "{ " + " ".join(f'a{i}: node(id: "{gid}") {{ ... on ClinicalActivity {{ {fragment} }} '
                                f'... on MedicalActivity {{ {fragment} }} }}' for i, gid in enumerate(part)) + " }"
        body = gql.post("/graphql", json={"query": query}).json()
        if body.get("errors"):
            raise RuntimeError(f"reading sync states: {body['errors'][:3]}")
        for i, gid in enumerate(part):
            node = body["data"][f"a{i}"] or {}
            out[gid] = {(s["connection"] or {}).get("name"): s["state"] for s in node.get("sync", [])}
    return out
