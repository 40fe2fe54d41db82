"""The Node peer (bench/peer/server.mjs) and the Python floor (bench/floor.py), each as a process of its own,
configured for the same stand-ins, store and identity provider as the gateway."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from bench.procs import Proc, Processes, free_port
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS

PEER_DIR = Path(__file__).resolve().parent / "peer"
# The demo connections (gateway/demo.py): which person identifier each org matches its accounts on.
DEMO_FIELDS = {"us": ("external_id__v", "External_ID_vod__c"), "eu": ("npi_number__c", "NPI_Number__c")}


def missing() -> str | None:
    """Why the peer cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (PEER_DIR / "node_modules" / "@apollo" / "server").is_dir():
        return "bench/peer/node_modules is not installed (npm ci --prefix bench/peer)"
    return None


def peer_config(ctms_url: str, org_urls: dict[str, str], database: Path, issuer: str | None) -> dict:
    orgs = [{"name": name, "url": url, "apiVersion": "v66.0", "clientId": CRM_CREDENTIALS["client_id"],
             "clientSecret": CRM_CREDENTIALS["client_secret"], "ctmsField": DEMO_FIELDS[name][0],
             "crmField": DEMO_FIELDS[name][1]} for name, url in org_urls.items()]
    return {"ctms": {"url": ctms_url, "version": "v26.1", **CTMS_CREDENTIALS}, "orgs": orgs, "issuer": issuer,
            "audience": "ccgw", "database": str(database)}


def wait_listening(proc: Proc, port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} is not listening after {timeout_s:g} s") from None
            time.sleep(0.05)


def start_peer(procs: Processes, config: dict) -> Proc:
    """`node bench/peer/server.mjs` on a free port; stopped with the other processes."""
    port = free_port()
    log = procs.dir / "peer.log"
    env = {**os.environ, "PEER_PORT": str(port), "PEER_CONFIG": json.dumps(config), "NODE_ENV": "production"}
    with log.open("wb") as fh:
        popen = subprocess.Popen(["node", str(PEER_DIR / "server.mjs")], stdout=fh, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    proc = Proc("peer", f"http://127.0.0.1:{port}", popen, log, "/")
    procs.procs.append(proc)
    wait_listening(proc, port)
    return proc


def start_floor(procs: Processes, config: dict) -> Proc:
    """`python -m bench.floor` on a free port, with the peer's configuration; stopped with the other processes."""
    port = free_port()
    proc = procs.start("floor", ["-m", "bench.floor"], port, env={"FLOOR_PORT": str(port),
                                                                  "FLOOR_CONFIG": json.dumps(config)})
    wait_listening(proc, port)
    return proc
