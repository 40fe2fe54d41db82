"""`ccgw serve` will not expose an unauthenticated gateway beyond this machine unless told so explicitly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.auth import check_binding
from gateway.cli import serve_settings
from gateway.settings import Settings

CCGW = [str(Path(sys.executable).with_name("ccgw"))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_non_loopback_address_without_an_issuer_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "CCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}"}
    env.pop("CCGW_OIDC_ISSUER", None)
    out = subprocess.run([*CCGW, "serve", "--host", "0.0.0.0", "--port", str(_free_port())], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "without an identity provider" in out.stderr and "CCGW_OIDC_ISSUER" in out.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_without_an_issuer_runs_as_the_default_user_with_a_warning(host, caplog) -> None:
    check_binding(Settings(), host)
    assert "NO AUTHENTICATION" in caplog.text


def test_an_issuer_or_the_explicit_flag_allows_any_address(caplog) -> None:
    check_binding(Settings(oidc_issuer="https://login.example.com"), "0.0.0.0")
    assert "NO AUTHENTICATION" not in caplog.text
    check_binding(Settings(insecure_no_auth=True), "0.0.0.0")
    assert "NO AUTHENTICATION" in caplog.text


@pytest.mark.slow
def test_insecure_no_auth_serves_and_warns_on_every_start(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "CCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}", "CCGW_WORKER": "false"}
    proc = subprocess.Popen([*CCGW, "serve", "--host", "0.0.0.0", "--port", str(port), "--insecure-no-auth",
                             "--no-worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ viewer { email } }"}).json()
        assert body["data"]["viewer"]["email"] == "clara.oswald@ctms.example.com"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "NO AUTHENTICATION" in output


@pytest.mark.parametrize(("variable", "flag", "runs"), [(None, None, True), ("false", None, False),
                                                       ("true", False, False), ("false", True, True)])
def test_the_worker_runs_as_ccgw_worker_says_unless_a_flag_says_otherwise(variable: str | None, flag: bool | None,
                                                                          runs: bool) -> None:
    env = {} if variable is None else {"CCGW_WORKER": variable}
    settings = serve_settings(Settings.load(env=env), worker=flag, insecure_no_auth=False, federation=False)
    assert settings.worker is runs
