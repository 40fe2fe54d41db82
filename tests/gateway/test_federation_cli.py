"""`ccgw serve --federation`, `ccgw demo --federation` and CCGW_FEDERATION serve /graphql as the subgraph."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from gateway.settings import Settings
from gateway.tokens import fetch_token

CCGW = str(Path(sys.executable).with_name("ccgw"))
ENTITIES = """{ _entities(representations: [{__typename: "Person", ctmsId: "0PE000000000001"}]) {
  ... on Person { ctmsId firstName } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], env: dict[str, str], ready: str) -> tuple[subprocess.Popen, list[str]]:
    """Start a ccgw command; return once `ready` answers 200 and the output has its closing banner line."""
    proc = subprocess.Popen([CCGW, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(ready, timeout=2).status_code == 200:
                return proc, lines
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError("ccgw exited early:\n" + "".join(lines))
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("ccgw did not become ready within 60 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCGW_")}
    env["CCGW_DATABASE_URL"] = f"sqlite:///{tmp_path / 'gw.db'}"
    return env


def test_the_setting_comes_from_the_environment() -> None:
    assert Settings().federation is False
    assert Settings.load(env={"CCGW_FEDERATION": "true"}).federation is True


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_serve_federation(tmp_path: Path, how: str) -> None:
    port = _free_port()
    env = _clean_env(tmp_path)
    args = ["serve", "--port", str(port), "--no-worker"]
    if how == "flag":
        args.append("--federation")
    else:
        env["CCGW_FEDERATION"] = "true"
    proc, lines = _run(args, env, f"http://127.0.0.1:{port}/healthz")
    try:
        # Loopback without an identity provider: every request acts as the default user (all permissions).
        body = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ _service { sdl } }"},
                          timeout=30).json()
    finally:
        _stop(proc)
    assert "errors" not in body, body
    assert '@key(fields: "ctmsId")' in body["data"]["_service"]["sdl"]


@pytest.mark.slow
def test_demo_federation(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc, lines = _run(["demo", "--port", str(port), "--data", str(tmp_path / "state"), "--federation"],
                       _clean_env(tmp_path), f"{url}/readyz")
    try:
        deadline = time.monotonic() + 30
        while not any("Ctrl-C" in x for x in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        idp = re.search(r"^Identity provider: (http://127\.0\.0\.1:\d+)$", "".join(lines), re.MULTILINE)
        assert idp, "".join(lines)
        headers = {"Authorization": f"Bearer {fetch_token(idp.group(1), 'clara.oswald@ctms.example.com')}"}
        body = httpx.post(f"{url}/graphql", json={"query": ENTITIES}, headers=headers, timeout=30).json()
        refused = httpx.post(f"{url}/graphql", json={"query": "{ _service { sdl } }"}, headers=headers,
                             timeout=30).json()
    finally:
        _stop(proc)
    assert "errors" not in body, body
    assert body["data"]["_entities"][0]["ctmsId"] == "0PE000000000001"
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert re.search(r"Federation 2 subgraph: http://127\.0\.0\.1:\d+/graphql", "".join(lines))
