"""`ccgw demo` as a new user runs it: up, a token from its provider, a merged timeline, SIGTERM stops it all,
--data keeps state."""

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

from gateway.tokens import fetch_token

pytestmark = pytest.mark.slow  # the whole demo in subprocesses

CCGW = str(Path(sys.executable).with_name("ccgw"))
QUERY = "{ people(first: 1) { edges { node { ctmsId timeline(first: 3) { edges { node { kind date } } } } } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Demo:
    """A running `ccgw demo`: its gateway URL, its identity provider (from its banner), and its output so far."""

    def __init__(self, proc: subprocess.Popen, url: str, lines: list[str], reader: threading.Thread) -> None:
        self.proc, self.url, self.lines, self.reader = proc, url, lines, reader

    @property
    def idp_url(self) -> str:
        found = re.search(r"^Identity provider: (http://127\.0\.0\.1:\d+)$", "".join(self.lines), re.MULTILINE)
        assert found, "no identity provider line in the demo's output:\n" + "".join(self.lines)
        return found.group(1)

    def headers(self, email: str = "ada.admin@ctms.example.com") -> dict[str, str]:
        return {"Authorization": f"Bearer {fetch_token(self.idp_url, email)}"}


def _start(port: int, data: Path) -> Demo:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCGW_")}
    proc = subprocess.Popen([CCGW, "demo", "--port", str(port), "--data", str(data)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200 and any("Ctrl-C" in x for x in lines):
                return Demo(proc, url, lines, reader)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            reader.join(timeout=5)
            raise AssertionError("the demo exited early:\n" + "".join(lines))
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the demo did not become ready within 60 s")


def _stop(demo: Demo) -> str:
    demo.proc.send_signal(signal.SIGTERM)
    demo.proc.wait(timeout=30)
    demo.reader.join(timeout=10)
    return "".join(demo.lines)


def _refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.ConnectError:
        return True
    return False


def test_demo_serves_a_merged_timeline_and_sigterm_stops_everything(tmp_path: Path) -> None:
    port = _free_port()
    demo = _start(port, tmp_path / "state")
    url = demo.url
    try:
        headers = demo.headers()
        body = httpx.post(f"{url}/graphql", json={"query": QUERY}, headers=headers, timeout=30).json()
        assert "errors" not in body, body
        [edge] = body["data"]["people"]["edges"]
        assert {e["node"]["kind"] for e in edge["node"]["timeline"]["edges"]} <= {"CLINICAL", "MEDICAL"}
        assert httpx.get(f"{url}/graphql", headers={"Accept": "text/html"}).status_code == 200
        stand_ins = [s["url"] for s in httpx.get(f"{url}/readyz", headers=headers).json()["sources"]]
        assert len(stand_ins) == 3
        idp_url = demo.idp_url
    finally:
        out = _stop(demo)
    assert demo.proc.returncode == 0, out
    assert re.search(r"GraphiQL:\s+http://127\.0\.0\.1:\d+/graphql", out)
    assert "Acting as" not in out
    assert f"ccgw token --idp {idp_url} --user clara.oswald@ctms.example.com" in out
    assert re.search(r"martin\.keller@ctms\.example\.com\s+cra\b", out)
    assert all(_refused(u) for u in [url, idp_url, *stand_ins]), "something the demo started is still listening"


def test_demo_data_dir_keeps_state_between_runs(tmp_path: Path) -> None:
    data = tmp_path / "state"
    create = """mutation { createClinicalActivity(input: {personId: "0PE000000000003",
      context: {studyId: "0ST000000000001"}, date: "2026-01-15", channel: EMAIL, completed: false,
      subject: "kept between runs"}) { activity { ctmsId } userErrors { message } } }"""
    demo = _start(_free_port(), data)
    try:
        created = httpx.post(f"{demo.url}/graphql", json={"query": create}, headers=demo.headers(),
                             timeout=30).json()
        activity_id = created["data"]["createClinicalActivity"]["activity"]["ctmsId"]
    finally:
        _stop(demo)
    demo = _start(_free_port(), data)
    try:
        query = ('{ person(id: "0PE000000000003") { timeline(first: 100) { edges { node { '
                 '... on ClinicalActivity { ctmsId subject } } } } } }')
        found = httpx.post(f"{demo.url}/graphql", json={"query": query}, headers=demo.headers(), timeout=30).json()
        subjects = {e["node"].get("ctmsId"): e["node"].get("subject")
                    for e in found["data"]["person"]["timeline"]["edges"]}
        assert subjects.get(activity_id) == "kept between runs"
    finally:
        _stop(demo)
