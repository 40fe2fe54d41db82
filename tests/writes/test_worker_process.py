"""`ccgw worker` on its own: a gateway without a worker leaves a mirror PENDING, the worker process delivers it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import global_id
from tests.writes.conftest import CREATE, NODE_SYNC, GatewayProcess, mirrors, new_input, unique_key, wait_until

pytestmark = pytest.mark.slow  # a worker process of its own

CCGW = str(Path(sys.executable).with_name("ccgw"))


def test_a_separate_worker_process_delivers_what_the_gateway_left_pending(gateway_env, stack, knobs, crm_api):
    gw = GatewayProcess({**gateway_env, "CCGW_WORKER": "false"})
    worker = None
    try:
        knobs(stack.orgs["us"], outage="refuse")
        out = gw.gql(CREATE, {"input": new_input(subject="left for the worker", key=unique_key())})
        activity = out["data"]["createClinicalActivity"]["activity"]
        assert {s["connection"]["name"]: s["state"] for s in activity["sync"]} == {"us": "PENDING", "eu": "SYNCED"}
        knobs(stack.orgs["us"], outage=None)
        worker = subprocess.Popen([CCGW, "worker"], env={**gateway_env, "CCGW_WORKER_INTERVAL_S": "0.2"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def synced() -> bool:
            node = gw.gql(NODE_SYNC, {"id": global_id("ClinicalActivity", activity["ctmsId"])})["data"]["node"]
            return {s["state"] for s in node["sync"]} == {"SYNCED"}
        wait_until(synced, timeout=30, what="the worker process to deliver the us mirror")
        assert len(mirrors(crm_api["us"], activity["ctmsId"])) == 1
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
        gw.stop()
