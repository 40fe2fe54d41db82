"""The graphql-http conformance audit (npm `graphql-http`, `auditServer`) on the live gateway: every MUST and SHOULD."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a Node process runs the whole audit against the live gateway
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "graphql_http_audit.mjs"
PACKAGE = ROOT / "node_modules" / "graphql-http"


def _skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: the graphql-http audit runs on Node"
    if not (PACKAGE / "package.json").is_file():
        return "node_modules/graphql-http is not installed: run `make install`"
    return None


@pytest.fixture(scope="module")
def audit(stack) -> list[dict]:
    if reason := _skip_reason():
        print(f"skipping the graphql-http audit: {reason}")
        pytest.skip(reason)
    env = {**os.environ, "CCGW_AUDIT_TOKEN": stack.gateway.token}
    done = subprocess.run(["node", str(SCRIPT), f"{stack.url}/graphql"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _failures(results: list[dict], level: str) -> list[dict]:
    return [r for r in results if r["name"].startswith(f"{level} ") and r["status"] != "ok"]


def _describe(failures: list[dict]) -> str:
    return "\n".join(f"{f['id']} {f['name']} [{f['status']}]: {f['reason']} (HTTP {f.get('responseStatus')}: "
                     f"{str(f.get('responseBody'))[:300]})" for f in failures)


def test_the_audit_covers_the_whole_suite(audit) -> None:
    levels = [r["name"].split(" ", 1)[0] for r in audit]
    assert (levels.count("MUST"), levels.count("SHOULD")) == (13, 23), levels


def test_every_must_passes(audit) -> None:
    failures = _failures(audit, "MUST")
    assert not failures, _describe(failures)


def test_every_should_passes(audit) -> None:
    failures = _failures(audit, "SHOULD")
    assert not failures, _describe(failures)
