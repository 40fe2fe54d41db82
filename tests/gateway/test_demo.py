"""`ccgw demo` as a new user runs it: up, a merged timeline answered, SIGTERM stops it all, --data keeps state."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CCGW = str(Path(sys.executable).with_name("ccgw"))
QUERY = "{ people(first: 1) { edges { node { ctmsId timeline(first: 3) { edges { node { kind date } } } } } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(port: int, data: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCGW_")}
    proc = subprocess.Popen([CCGW, "demo", "--port", str(port), "--data", str(data)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            lines.append(proc.stdout.read() if proc.stdout else "")
            raise AssertionError("the demo exited early:\n" + "".join(lines))
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the demo did not become ready within 60 s")


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return out


def _refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.ConnectError:
        return True
    return False


def test_demo_serves_a_merged_timeline_and_sigterm_stops_everything(tmp_path: Path) -> None:
    port = _free_port()
    proc, url = _start(port, tmp_path / "state")
    try:
        body = httpx.post(f"{url}/graphql", json={"query": QUERY}, timeout=30).json()
        assert "errors" not in body, body
        [edge] = body["data"]["people"]["edges"]
        assert {e["node"]["kind"] for e in edge["node"]["timeline"]["edges"]} <= {"CLINICAL", "MEDICAL"}
        assert httpx.get(f"{url}/graphql", headers={"Accept": "text/html"}).status_code == 200
        stand_ins = [s["url"] for s in httpx.get(f"{url}/readyz").json()["sources"]]
        assert len(stand_ins) == 3
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert re.search(r"GraphiQL:\s+http://127\.0\.0\.1:\d+/graphql", out)
    assert all(_refused(u) for u in [url, *stand_ins]), "something the demo started is still listening"


def test_demo_data_dir_keeps_state_between_runs(tmp_path: Path) -> None:
    data = tmp_path / "state"
    create = """mutation { createClinicalActivity(input: {personId: "0PE000000000003",
      context: {studyId: "0ST000000000001"}, date: "2026-01-15", channel: EMAIL, completed: false,
      subject: "kept between runs"}) { activity { ctmsId } userErrors { message } } }"""
    proc, url = _start(_free_port(), data)
    try:
        created = httpx.post(f"{url}/graphql", json={"query": create}, timeout=30).json()
        activity_id = created["data"]["createClinicalActivity"]["activity"]["ctmsId"]
    finally:
        _stop(proc)
    proc, url = _start(_free_port(), data)
    try:
        query = ('{ person(id: "0PE000000000003") { timeline(first: 100) { edges { node { '
                 '... on ClinicalActivity { ctmsId subject } } } } } }')
        found = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()
        subjects = {e["node"].get("ctmsId"): e["node"].get("subject")
                    for e in found["data"]["person"]["timeline"]["edges"]}
        assert subjects.get(activity_id) == "kept between runs"
    finally:
        _stop(proc)
