"""End to end with real router tooling: ccgw's subgraph and a small KOL subgraph composed into a supergraph by
`@theguild/federation-composition`, served by Hive Gateway (`@graphql-hive/gateway`, from node_modules), which
forwards each caller's Authorization header to both subgraphs."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from emulators.server import EmulatorServer
from tests.federation.kol_subgraph import KolService, create_app

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODULES = ROOT / "node_modules"
GATEWAY_BIN = MODULES / "@graphql-hive" / "gateway" / "dist" / "bin.js"
COMPOSITION = MODULES / "@theguild" / "federation-composition" / "package.json"
CRA = "martin.keller@ctms.example.com"
SERVICE = "{ _service { sdl } }"
TIERS = ("PLATINUM", "GOLD", "SILVER")

pytestmark = pytest.mark.slow


def _skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: the supergraph test runs Hive Gateway on Node"
    if not GATEWAY_BIN.is_file() or not COMPOSITION.is_file():
        return "@graphql-hive/gateway or @theguild/federation-composition is not in node_modules: run `make install`"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Supergraph:
    url: str
    people: list[dict]
    kol: KolService

    def post(self, query: str, variables: dict | None = None, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                          headers=headers, timeout=30)


def _sdl(url: str, token: str) -> str:
    """A subgraph's SDL as a composing tool reads it: `_service { sdl }`, with the router's (admin) token."""
    r = httpx.post(url, json={"query": SERVICE}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    return r.json()["data"]["_service"]["sdl"]


def _wait_ready(proc: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hive-gateway exited with {proc.returncode}: {proc.stdout.read()}")  # type: ignore
        try:
            if httpx.get(f"{url}/readiness", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("hive-gateway did not become ready in 60 s")


@pytest.fixture(scope="module")
def supergraph(stack, tmp_path_factory) -> Iterator[Supergraph]:
    if reason := _skip_reason():
        print(f"skipping the supergraph test: {reason}")
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("supergraph")
    ccgw = stack.start_gateway(federation=True, worker=False)
    edges = ccgw.gql("{ people(first: 3) { edges { node { id firstName lastName } } } }")["data"]["people"]["edges"]
    people = [e["node"] for e in edges]
    kol = KolService({p["id"]: tier for p, tier in zip(people, TIERS, strict=True)})
    kol_server = EmulatorServer(create_app(kol)).start()
    router_token = stack.token("ada.admin@ctms.example.com")
    subgraphs = {"ccgw": f"{ccgw.url}/graphql", "kol": f"{kol_server.url}/graphql"}
    specs = []
    for name, url in subgraphs.items():
        (work / f"{name}.graphql").write_text(_sdl(url, router_token))
        specs.append(f"{name}={url}={work / f'{name}.graphql'}")
    composed = subprocess.run(["node", str(HERE / "compose.mjs"), str(work / "supergraph.graphql"), *specs],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert composed.returncode == 0, composed.stderr
    port = _free_port()
    proc = subprocess.Popen(["node", str(GATEWAY_BIN), "supergraph", str(work / "supergraph.graphql"),
                             "--host", "127.0.0.1", "--port", str(port), "--config-path",
                             str(HERE / "gateway.config.mjs")],
                            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url)
        kol.tokens.clear()  # composition read its SDL with the router's token
        yield Supergraph(url, people, kol)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        kol_server.stop()


def test_one_request_reads_a_person_from_both_subgraphs(supergraph, stack, ctms_api, gid) -> None:
    rows = {r["id"]: r for r in ctms_api.rows("SELECT id, first_name__sys, last_name__sys FROM person__sys")}
    token = stack.token(CRA)
    query = "query($id: ID!) { person(id: $id) { id ctmsId firstName lastName kolTier } }"
    for person, tier in zip(supergraph.people, TIERS, strict=True):
        r = supergraph.post(query, {"id": person["id"]}, token)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body
        got = body["data"]["person"]
        row = rows[got["ctmsId"]]
        assert got == {"id": gid("Person", row["id"]), "ctmsId": row["id"], "firstName": row["first_name__sys"],
                       "lastName": row["last_name__sys"], "kolTier": tier}
    # The KOL subgraph was called with the caller's own token, not the router's.
    assert supergraph.kol.tokens and set(supergraph.kol.tokens) == {token}


def test_people_referenced_by_the_other_subgraph_resolve_through_ccgw(supergraph, stack) -> None:
    r = supergraph.post("{ topKols { id kolTier firstName lastName } }", token=stack.token(CRA))
    body = r.json()
    assert "errors" not in body, body
    assert body["data"]["topKols"] == [{**p, "kolTier": tier} for p, tier in zip(supergraph.people, TIERS,
                                                                                  strict=True)]


def test_ccgw_authorizes_the_caller_behind_the_router(supergraph, stack) -> None:
    person = supergraph.people[0]
    query = """query($id: ID!) { person(id: $id) { kolTier timeline(first: 50) { edges { node { kind } } } } }"""
    as_cra = supergraph.post(query, {"id": person["id"]}, stack.token(CRA)).json()
    assert "errors" not in as_cra, as_cra
    assert {e["node"]["kind"] for e in as_cra["data"]["person"]["timeline"]["edges"]} <= {"CLINICAL"}
    # Without a token ccgw answers nothing, and says why through the router.
    anonymous = supergraph.post(query, {"id": person["id"]}).json()
    assert not (anonymous.get("data") or {}).get("person"), anonymous
    assert [(e["extensions"].get("serviceName"), e["extensions"]["code"]) for e in anonymous["errors"]] == [
        ("ccgw", "UNAUTHENTICATED")], anonymous
