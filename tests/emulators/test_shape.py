"""The CTMS and CRM stand-ins share one shape: the same modules, the same factory, one way to fail each, and nothing
of the gateway."""

from __future__ import annotations

import ast
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulators import crm, ctms
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, build_world
from emulators.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2] / "emulators"
# Modules named alike in both stand-ins; each also has its state (vault / org) and its query language (vql / soql).
SHARED = {"app", "auth", "changes", "context", "cursors", "errors", "limits", "metadata", "objects", "query",
          "records", "routes", "rules", "sessions", "store", "timestamps", "writes"}
OWN = {"ctms": {"__main__", "vault", "vql", "csv_records"},
       "crm": {"__main__", "org", "soql", "describe", "composite", "composite_request", "jwt_bearer"}}
OURS = {"gateway", "schema", "resolvers", "datasources", "domain", "bench", "tests"}


@pytest.mark.parametrize("package", [ctms, crm], ids=["ctms", "crm"])
def test_both_standins_are_laid_out_alike(package: object) -> None:
    name = package.__name__.rsplit(".", 1)[1]  # type: ignore[attr-defined]
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}  # type: ignore[attr-defined]
    assert modules == SHARED | OWN[name]


def test_both_factories_take_the_same_keywords_first() -> None:
    def keywords(factory: object) -> list[str]:
        params = inspect.signature(factory).parameters.values()  # type: ignore[arg-type]
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]

    assert keywords(ctms.create_app)[:3] == keywords(crm.create_app)[:3] == ["knobs", "db_url", "today"]


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_the_standins_import_nothing_of_the_gateway() -> None:
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) > 40
    leaks = [f"{path.relative_to(ROOT)}: {name}" for path in files for name in _imports(path)
             if name.split(".")[0] in OURS]
    assert leaks == []


def test_every_standin_module_opens_with_a_docstring() -> None:
    missing = [str(p.relative_to(ROOT)) for p in sorted(ROOT.rglob("*.py"))
               if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert missing == []


@pytest.fixture(scope="module")
def vault() -> Iterator[httpx.Client]:
    server = EmulatorServer(ctms.create_app(build_world(3))).start()
    with httpx.Client(base_url=f"{server.url}/api/v26.1", timeout=10) as client:
        yield client
    server.stop()


@pytest.fixture(scope="module")
def org() -> Iterator[httpx.Client]:
    server = EmulatorServer(crm.create_app("us", build_world(3))).start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
    server.stop()


def test_a_refused_vault_call_is_a_vault_failure_naming_the_signed_in_user(vault: httpx.Client) -> None:
    login = vault.post("/auth", data={"username": CTMS_CREDENTIALS["username"],
                                      "password": CTMS_CREDENTIALS["password"]}).json()
    r = vault.get("/vobjects/nope__v/1", headers={"Authorization": login["sessionId"]})
    assert (r.status_code, r.json()) == (200, {"responseStatus": "FAILURE", "errors": [
        {"type": "INVALID_DATA", "message": "Object [nope__v] does not exist"}]})
    assert r.headers["X-VaultAPI-UserId"] == str(login["userId"]) and r.headers["X-VaultAPI-VaultId"] == "1776"
    anonymous = vault.get("/vobjects/nope__v/1")
    assert anonymous.json()["errors"][0]["type"] == "INVALID_SESSION_ID"
    assert "X-VaultAPI-UserId" not in anonymous.headers


def test_a_refused_org_call_is_a_salesforce_error_array(org: httpx.Client) -> None:
    bad_grant = org.post("/services/oauth2/token", data={"grant_type": "implicit"})
    assert (bad_grant.status_code, bad_grant.json()) == (
        400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"})
    token = org.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": CRM_CREDENTIALS["client_id"],
        "client_secret": CRM_CREDENTIALS["client_secret"]}).json()["access_token"]
    r = org.get("/services/data/v66.0/sobjects/Nope/describe", headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()) == (404, [{"message": "The requested resource does not exist",
                                               "errorCode": "NOT_FOUND"}])
    assert r.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
