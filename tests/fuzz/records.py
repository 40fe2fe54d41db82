"""The fuzzed stand-ins' records, read directly: every activity, call and Vault Clinical Interaction the gateway
writes, what changed between two readings, and the invariant no write may break (no mirror twice); and the count
of write requests the stand-ins received, which tells cheaply whether the records need reading again."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import httpx

from emulators.server import EmulatorServer
from tests.conftest import SalesforceApi, VaultApi

ACTIVITY_FIELDS = ("id, object_type__v.api_name__v, person__v, study__v, study_country__v, site__v, study_person__v, "
                   "activity_date__v, channel__v, completed__v, subject__v, modified_date__v, crm_org__v, "
                   "crm_call_id__v")
CALL_FIELDS = ("Id, Account_vod__c, Call_Date_vod__c, Call_Channel_vod__c, Status_vod__c, Subject_vod__c, "
               "Send_To_Vault_Clinical_vod__c, SystemModstamp")
MIRROR_FIELDS = "Id, Vault_Activity_Id_vod__c, Interaction_Date_vod__c, Status_vod__c, Subject_vod__c, SystemModstamp"
# The stand-ins' request counters ("METHOD /route") of the endpoints that can write records: Vault's vobjects,
# Salesforce's sObjects and sObject Collections (some of whose POSTs only read: counting them costs a reading).
WRITES = re.compile(r"^(POST|PUT|PATCH|DELETE) .*(/vobjects/|/sobjects|/composite)")


@dataclass
class Snapshot:
    ctms: dict[str, dict]  # crm_activity__v by id
    calls: dict[str, dict[str, dict]]  # org -> Call2_vod__c by Id
    mirrors: dict[str, dict[str, dict]]  # org -> Vault_Clinical_Interaction_vod__c by Id

    @classmethod
    def read(cls, vault: VaultApi, orgs: dict[str, SalesforceApi]) -> Snapshot:
        return cls({r["id"]: r for r in vault.rows(f"SELECT {ACTIVITY_FIELDS} FROM crm_activity__v")},
                   {o: {r["Id"]: r for r in api.records(f"SELECT {CALL_FIELDS} FROM Call2_vod__c")}
                    for o, api in orgs.items()},
                   {o: {r["Id"]: r for r in api.records(f"SELECT {MIRROR_FIELDS} FROM "
                                                          "Vault_Clinical_Interaction_vod__c")}
                    for o, api in orgs.items()})

    def mirrors_of(self, org: str, activity_id: str) -> int:
        return sum(1 for r in self.mirrors[org].values() if r["Vault_Activity_Id_vod__c"] == activity_id)

    def medical_of(self, org: str, call_id: str) -> int:
        return sum(1 for r in self.ctms.values() if r["crm_org__v"] == org and r["crm_call_id__v"] == call_id)

    def doubles(self) -> list[str]:
        """Activities mirrored more than once in an org, calls mirrored more than once in the CTMS."""
        out = [f"{org}: activity {a} has {n} interactions" for org, rows in self.mirrors.items()
               for a, n in Counter(r["Vault_Activity_Id_vod__c"] for r in rows.values()).items() if n > 1]
        out += [f"CTMS: call {org}:{c} has {n} medical activities"
                for (org, c), n in Counter((r["crm_org__v"], r["crm_call_id__v"]) for r in self.ctms.values()
                                           if r["crm_call_id__v"]).items() if n > 1]
        return out


def changed(before: dict[str, dict], after: dict[str, dict]) -> list[dict]:
    """The rows added, removed or modified (as they were before, for the removed ones)."""
    return [after.get(k) or before[k] for k in before.keys() | after.keys() if before.get(k) != after.get(k)]


class WriteRequests:
    """How many requests that can write records the stand-ins have received so far (their `/_admin/stats`)."""

    def __init__(self, servers: list[EmulatorServer]) -> None:
        self.clients = [httpx.Client(base_url=f"{server.url}/_admin", timeout=10) for server in servers]

    def __call__(self) -> int:
        return sum(n for client in self.clients for key, n in client.get("/stats").json().items()
                   if WRITES.match(key))

    def close(self) -> None:
        for client in self.clients:
            client.close()
