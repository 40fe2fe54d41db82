"""Helpers for the write-path tests: mutations, reading mirrors back from the stand-ins, waiting on sync."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import SalesforceApi, Stack, VaultApi, global_id

ACTIVITY_FIELDS = """id ctmsId date channel status owner subject
  sync { connection { name } state remoteId attempts lastError }"""
CREATE = f"""mutation($input: CreateClinicalActivityInput!) {{
  createClinicalActivity(input: $input) {{ activity {{ {ACTIVITY_FIELDS} }} userErrors {{ field message code }} }} }}"""
UPDATE = f"""mutation($input: UpdateClinicalActivityInput!) {{
  updateClinicalActivity(input: $input) {{ activity {{ {ACTIVITY_FIELDS} }} userErrors {{ field message code }} }} }}"""
DELETE = """mutation($id: ID!) { deleteClinicalActivity(id: $id) { deletedId userErrors { field message code } } }"""
NODE_SYNC = """query($id: ID!) { node(id: $id) { ... on ClinicalActivity { id sync { connection { name } state
  remoteId attempts lastError } } ... on MedicalActivity { id sync { connection { name } state remoteId } } } }"""

# Seeded people (emulators/seed.py): the first has no account in eu, the second two accounts in us.
NO_MATCH_EU = "0PE000000000001"
CONFLICT_US = "0PE000000000002"
MATCHED = "0PE000000000003"
STUDY = "0ST000000000001"
SITE = "0SI000000000001"
VCI_FIELDS = ("Id, Account_vod__c, Interaction_Date_vod__c, Status_vod__c, Channel_vod__c, Subject_vod__c, "
              "Owner_Text_vod__c, Vault_Activity_Id_vod__c, Clinical_Study_vod__c, Clinical_Site_vod__c, "
              "Context_Type_vod__c")


def new_input(person: str = MATCHED, *, context: dict | None = None, day: date | None = None,
              channel: str = "PHONE", completed: bool = True, subject: str | None = "write test",
              key: str | None = None) -> dict:
    out = {"personId": global_id("Person", person),
           "context": context if context is not None else {"studySiteId": global_id("StudySite", SITE)},
           "date": (day or date.today() - timedelta(days=1)).isoformat(), "channel": channel,
           "completed": completed, "subject": subject}
    if key:
        out["idempotencyKey"] = key
    return out


def unique_key() -> str:
    return f"k-{uuid.uuid4().hex}"


def wait_until(check: Callable[[], object], timeout: float = 15.0, every: float = 0.1, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(every)


def sync_states(gql: Callable[..., dict], activity_gid: str) -> dict[str, str]:
    body = gql(NODE_SYNC, {"id": activity_gid})
    assert "errors" not in body, body
    return {s["connection"]["name"]: s["state"] for s in body["data"]["node"]["sync"] if s["connection"]}


def wait_synced(gql: Callable[..., dict], activity_gid: str, expected: dict[str, str], timeout: float = 15.0) -> None:
    last: dict = {}

    def check() -> bool:
        nonlocal last
        last = sync_states(gql, activity_gid)
        return all(last.get(k) == v for k, v in expected.items())

    try:
        wait_until(check, timeout)
    except AssertionError:
        raise AssertionError(f"sync of {activity_gid}: {last}, wanted {expected}") from None


def mirrors(api: SalesforceApi, ctms_id: str) -> list[dict]:
    return api.records(f"SELECT {VCI_FIELDS} FROM Vault_Clinical_Interaction_vod__c "
                       f"WHERE Vault_Activity_Id_vod__c = '{ctms_id}'")


def count_all(ctms_api: VaultApi, crm_api: dict[str, SalesforceApi]) -> dict[str, int]:
    out = {"ctms": len(ctms_api.rows("SELECT id FROM crm_activity__v"))}
    for name, api in crm_api.items():
        out[name] = len(api.records("SELECT Id FROM Vault_Clinical_Interaction_vod__c"))
        out[f"{name}:calls"] = len(api.records("SELECT Id FROM Call2_vod__c"))
    return out


@pytest.fixture
def create(stack: Stack) -> Callable[..., dict]:
    """`create(**new_input kwargs)` -> the createClinicalActivity payload, asserting no top-level errors."""
    def run(gql: Callable[..., dict] | None = None, **kwargs: object) -> dict:
        body = (gql or stack.gql)(CREATE, {"input": new_input(**kwargs)})
        assert "errors" not in body, body
        return body["data"]["createClinicalActivity"]
    return run


ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    """`uvicorn --factory gateway.app:create_app` in a child process, configured through CCGW_* variables."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "gateway.app:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()[-2000:]
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.05)
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def gql(self, query: str, variables: dict | None = None) -> dict:
        r = self.client.post("/graphql", json={"query": query, "variables": variables})
        assert r.status_code == 200, r.text
        return r.json()

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def gateway_env(stack) -> Iterator[dict[str, str]]:
    """The environment of a gateway process over the session's stand-ins, with its own fresh SQLite database."""
    from gateway.demo import configure

    db = Path(tempfile.mkdtemp(prefix="ccgw-crash-")) / "gateway.db"
    url = f"sqlite:///{db}"
    configure(url, stack.orgs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCGW_") or k in (
        "CCGW_CTMS_USERNAME", "CCGW_CTMS_PASSWORD", "CCGW_DEMO_CLIENT_ID", "CCGW_DEMO_CLIENT_SECRET")}
    env.update(CCGW_DATABASE_URL=url, CCGW_CTMS_URL=stack.ctms.url, CCGW_POLL_INTERVAL_S="0",
               CCGW_WORKER_INTERVAL_S="0.2", CCGW_CRM_TIMEOUT_S="2", CCGW_CTMS_TIMEOUT_S="2")
    yield env
