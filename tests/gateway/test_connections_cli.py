"""`ccgw connections list | add | update | test | remove` with `--json` (for scripts), a table on a terminal, and
`test` against the stand-ins with this process's environment."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datasources.store.db import create_engine
from datasources.store.repo import MirrorPlan, Store
from emulators.seed import CRM_CREDENTIALS
from gateway.cli import app
from gateway.demo import DEMO_CLIENT_ID_ENV, DEMO_CLIENT_SECRET_ENV, DEMO_JWT_PRIVATE_KEY_ENV

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}"}


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["connections", *args], env=env)
    return result.exit_code, result.output


def _json(env: dict[str, str], *args: str) -> object:
    code, out = _cli(env, *args, "--json")
    assert code == 0, out
    return json.loads(out)


def _add_jwt(env: dict[str, str], name: str, url: str, *extra: str) -> object:
    return _json(env, "add", name, "--crm-url", url, "--auth-kind", "JWT_BEARER", "--client-id-env",
                 DEMO_CLIENT_ID_ENV, "--private-key-env", DEMO_JWT_PRIVATE_KEY_ENV, "--jwt-subject",
                 CRM_CREDENTIALS["username"], "--ctms-field", "external_id__v", "--crm-field", "External_ID_vod__c",
                 *extra)


def test_add_update_list_remove_as_json(env: dict[str, str]) -> None:
    added = _add_jwt(env, "apac", "https://apac.my.salesforce.com/")
    assert added == {"name": "apac", "enabled": True, "crmUrl": "https://apac.my.salesforce.com", "apiVersion": "66.0",
                     "auth": {"kind": "JWT_BEARER", "clientIdEnv": DEMO_CLIENT_ID_ENV, "clientSecretEnv": None,
                              "usernameEnv": None, "passwordEnv": None, "privateKeyEnv": DEMO_JWT_PRIVATE_KEY_ENV,
                              "jwtSubject": CRM_CREDENTIALS["username"], "jwtAudience": None},
                     "identifier": {"ctmsField": "external_id__v", "crmField": "External_ID_vod__c",
                                    "ctmsFieldKind": "STANDARD", "crmFieldKind": "STANDARD"}}
    updated = _json(env, "update", "apac", "--auth-kind", "client_credentials", "--client-secret-env", "APAC_SECRET",
                    "--clear", "private-key-env", "--clear", "jwt-subject", "--disable", "--api-version", "65.0")
    assert updated["auth"]["kind"] == "CLIENT_CREDENTIALS" and updated["auth"]["clientSecretEnv"] == "APAC_SECRET"
    assert updated["auth"]["privateKeyEnv"] is None and updated["auth"]["jwtSubject"] is None
    assert updated["enabled"] is False and updated["apiVersion"] == "65.0"
    [listed] = _json(env, "list")
    assert listed == {**updated, "pending": 0, "failed": 0}
    assert _json(env, "remove", "apac") == {"deleted": "apac"}
    assert _json(env, "list") == []


def test_refusals_exit_2_with_the_reason(env: dict[str, str]) -> None:
    code, out = _cli(env, "update", "nowhere", "--disable")
    assert code == 2 and "no connection nowhere" in out
    code, out = _cli(env, "remove", "nowhere")
    assert code == 2 and "no connection nowhere" in out
    _add_jwt(env, "apac", "https://apac.my.salesforce.com")
    code, out = _cli(env, "update", "apac", "--clear", "jwt-subject")
    assert code == 2 and "JWT_BEARER needs the subject" in out
    code, out = _cli(env, "update", "apac")
    assert code == 2 and "nothing to change" in out
    assert _json(env, "list")[0]["auth"]["jwtSubject"] == CRM_CREDENTIALS["username"]


def test_remove_is_refused_while_mirrors_are_pending_unless_forced(env: dict[str, str]) -> None:
    _add_jwt(env, "apac", "https://apac.my.salesforce.com")

    async def plan() -> None:
        store = Store(create_engine(env["CCGW_DATABASE_URL"]))
        await store.plan_mirrors("clinical", "0CA000000000001", None, [MirrorPlan("apac")])
        await store.engine.dispose()

    asyncio.run(plan())
    assert _json(env, "list")[0]["pending"] == 1
    code, out = _cli(env, "remove", "apac")
    assert code == 2 and "1 mirrors of apac are pending" in out
    assert _json(env, "remove", "apac", "--force") == {"deleted": "apac"}
    assert _json(env, "list") == []


def test_list_is_a_table_on_a_terminal_and_lines_when_piped(env: dict[str, str]) -> None:
    _add_jwt(env, "apac", "https://apac.my.salesforce.com")
    code, out = _cli({**env, "TTY_COMPATIBLE": "1", "COLUMNS": "200"}, "list")
    text = ANSI.sub("", out)
    assert code == 0 and "1 connections" in text and "┃ name" in text
    assert re.search(r"│ apac +│ enabled +│ https://apac\.my\.salesforce\.com +│ 66\.0 +│ JWT_BEARER", text), text
    code, out = _cli(env, "list")
    assert out.splitlines()[0].split("\t")[:5] == ["apac", "enabled", "https://apac.my.salesforce.com",
                                                  "external_id__v (STANDARD) <-> External_ID_vod__c (STANDARD)",
                                                  "JWT_BEARER"]


def test_test_checks_against_the_stand_ins(stack, env: dict[str, str]) -> None:  # noqa: ANN001
    # The CLI reads its secrets from this process's environment, where the stack put the demo's.
    env = {**env, "CCGW_CTMS_URL": stack.ctms.url}
    _add_jwt(env, "apac", stack.orgs["us"].url)
    report = _json(env, "test", "apac")
    assert report["ok"] is True and report["connection"] == "apac"
    assert [(c["name"], c["ok"]) for c in report["checks"]] == [
        ("REACHABILITY", True), ("CREDENTIALS", True), ("API_VERSION", True), ("CTMS_IDENTIFIER_FIELD", True),
        ("CRM_IDENTIFIER_FIELD", True)]
    _json(env, "update", "apac", "--auth-kind", "CLIENT_CREDENTIALS", "--client-secret-env", DEMO_CLIENT_ID_ENV,
          "--crm-field", "Missing_Field__c")
    code, out = _cli(env, "test", "apac", "--json")
    assert code == 1
    report = json.loads(out)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert checks["CREDENTIALS"]["message"] == "the org refused the client credentials (INVALID_CLIENT)"
    _json(env, "update", "apac", "--client-secret-env", DEMO_CLIENT_SECRET_ENV)
    code, out = _cli(env, "test", "apac")
    assert code == 1
    lines = [line.split("\t") for line in out.splitlines()]
    assert [line[:2] for line in lines] == [["REACHABILITY", "ok"], ["CREDENTIALS", "ok"], ["API_VERSION", "ok"],
                                            ["CTMS_IDENTIFIER_FIELD", "ok"], ["CRM_IDENTIFIER_FIELD", "failed"]]
    assert lines[4][2] == "the org's Account object has no field Missing_Field__c"
    code, out = _cli(env, "test", "nowhere")
    assert code == 2 and "no connection nowhere" in out
