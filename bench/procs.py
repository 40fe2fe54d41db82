"""Stand-ins and the gateway in their own processes, so none of them shares a GIL with the load client.

`Processes` starts `python -m emulators.ctms`, `python -m emulators.crm` and the gateway (`ccgw serve`) on free
loopback ports, waits until each answers, and kills every one it started on exit
(including Ctrl-C and SIGTERM, which is turned into SystemExit so `finally` blocks run).
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from emulators.seed import CTMS_CREDENTIALS, ORGS


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ccgw_serve(port: int, *flags: str, code: str | None = None) -> list[str]:
    """The interpreter's arguments for `ccgw serve --port PORT FLAGS`, with this tree's code or that in `code`."""
    first = f"import sys; sys.path.insert(0, {code!r}); " if code else ""
    return ["-c", first + "from gateway.cli import app; app()", "serve", "--port", str(port), *flags]


def baseline_tree(rev: str, into: Path) -> Path:
    """This repository's code at git revision `rev`, exported into `into` (for `--baseline`)."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", rev], check=True,
                             capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def exit_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@dataclass
class Proc:
    name: str
    url: str
    popen: subprocess.Popen
    log: Path
    probe: str


class Processes:
    """Every process started here is stopped by `close()` (terminate, then kill after 5 s)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ccgw-bench-"))
        self.procs: list[Proc] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, name: str, args: list[str], port: int, env: dict[str, str] | None = None,
              probe: str = "/_admin/knobs", python: str | None = None) -> Proc:
        """Start `python ARGS` (which must listen on `port`) with this interpreter or `python`; `wait_ready` polls
        `probe` until it answers 200."""
        log = self.dir / f"{name.replace(':', '-')}.log"
        with log.open("wb") as fh:
            popen = subprocess.Popen([python or sys.executable, *args], stdout=fh, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                                     start_new_session=True)  # Ctrl-C reaches only the bench; close() stops these
        proc = Proc(name, f"http://127.0.0.1:{port}", popen, log, probe)
        self.procs.append(proc)
        return proc

    def wait_ready(self, *procs: Proc, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(procs)
        while pending:
            for proc in list(pending):
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.log.read_text()[-2000:]}")
                try:
                    if httpx.get(proc.url + proc.probe, timeout=1).status_code == 200:
                        pending.remove(proc)
                except httpx.TransportError:
                    pass
            if pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not answering after {timeout_s:g} s: {', '.join(p.name for p in pending)}")
                time.sleep(0.05)

    def stand_ins(self, people: int) -> tuple[Proc, dict[str, Proc]]:
        """The CTMS and one CRM process per org, each building its own `build_world(people)`; started together."""
        ctms = self.start("ctms", ["-m", "emulators.ctms", "--port", str(port := free_port()), "--people",
                                   str(people)], port=port)
        orgs = {}
        for org in ORGS:
            orgs[org] = self.start(f"crm:{org}", ["-m", "emulators.crm", "--org", org, "--port",
                                                  str(port := free_port()), "--people", str(people)], port=port)
        self.wait_ready(ctms, *orgs.values())
        return ctms, orgs

    def gateway(self, env: dict[str, str], port: int | None = None, name: str = "gateway",
                code: Path | None = None) -> Proc:
        """`ccgw serve`, the deployment the README recommends (one process), settings from CCGW_* variables (on
        `port`, or a free one); with this tree's code, or that exported into `code` (a `--baseline`)."""
        port = port or free_port()
        env = {"CCGW_CTMS_USERNAME": CTMS_CREDENTIALS["username"],
               "CCGW_CTMS_PASSWORD": CTMS_CREDENTIALS["password"], **env}
        proc = self.start(name, ccgw_serve(port, "--host", "127.0.0.1", code=str(code) if code else None), port,
                          env=env, probe="/healthz")
        self.wait_ready(proc, timeout_s=60)
        return proc

    def stop(self, proc: Proc, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`."""
        if proc.popen.poll() is None:
            proc.popen.terminate()
            try:
                proc.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)
