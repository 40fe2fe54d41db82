"""A gateway process killed at each step of a create loses nothing and doubles nothing after a restart."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from resolvers.crash import STEPS
from tests.conftest import global_id
from tests.writes.conftest import CREATE, NODE_SYNC, GatewayProcess, mirrors, new_input, unique_key, wait_until

pytestmark = pytest.mark.slow  # processes killed and restarted

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("step", STEPS)
def test_crash_at_each_step_then_restart(step, gateway_env, ctms_api, crm_api):
    subject = f"crash {step} {uuid.uuid4().hex[:8]}"
    inp = new_input(subject=subject, key=unique_key())
    doomed = GatewayProcess({**gateway_env, "CCGW_CRASH_AT": step})
    try:
        with pytest.raises(httpx.TransportError):
            doomed.gql(CREATE, {"input": inp})
        assert doomed.proc.wait(10) == -signal.SIGKILL
    finally:
        doomed.stop()
    written = ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE subject__v = '{subject}'")
    assert len(written) == (0 if step == "after_intent" else 1)

    gw = GatewayProcess(gateway_env)
    try:
        body = gw.gql(CREATE, {"input": inp})
        assert "errors" not in body, body
        out = body["data"]["createClinicalActivity"]
        assert out["userErrors"] == [], out
        ctms_id = out["activity"]["ctmsId"]
        [rec] = ctms_api.rows("SELECT id, gateway_request__v FROM crm_activity__v "
                              f"WHERE subject__v = '{subject}'")
        assert rec["id"] == ctms_id and rec["gateway_request__v"]
        if written:
            assert written[0]["id"] == ctms_id  # the replay returned the activity written before the crash
        again = gw.gql(CREATE, {"input": inp})["data"]["createClinicalActivity"]
        assert again["activity"]["ctmsId"] == ctms_id

        last: list = []

        def synced() -> bool:
            last[:] = gw.gql(NODE_SYNC, {"id": global_id("ClinicalActivity", ctms_id)})["data"]["node"]["sync"]
            return {s["connection"]["name"]: s["state"] for s in last} == {"us": "SYNCED", "eu": "SYNCED"}
        try:
            wait_until(synced, timeout=15, what="both mirrors SYNCED")
        except AssertionError:
            raise AssertionError(f"not SYNCED: {last}") from None
        for api in crm_api.values():
            assert len(mirrors(api, ctms_id)) == 1
        assert len(ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE subject__v = '{subject}'")) == 1
        _assert_no_pending_intents(gateway_env["CCGW_DATABASE_URL"])
    finally:
        gw.stop()


def _assert_no_pending_intents(url: str) -> None:
    import sqlite3
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        table = next(t for t in tables if "intent" in t)
        pending = db.execute(f"SELECT id, operation FROM {table} WHERE status = 'pending'").fetchall()  # noqa: S608
    assert pending == []


LOG_CALL = """mutation($input: LogCallInput!) { logCall(input: $input) { callId
  activity { id sync { state remoteId } } userErrors { field message code } } }"""


@pytest.mark.parametrize("step", STEPS)
def test_log_call_crash_at_each_step_then_restart(step, gateway_env, ctms_api, crm_api):
    subject = f"call crash {step} {uuid.uuid4().hex[:8]}"
    inp = {"connectionId": global_id("Connection", "us"), "personId": global_id("Person", "0PE000000000003"),
           "date": "2026-01-20", "channel": "PHONE", "completed": True, "subject": subject,
           "sendToClinical": True, "idempotencyKey": unique_key()}
    doomed = GatewayProcess({**gateway_env, "CCGW_CRASH_AT": step})
    try:
        with pytest.raises(httpx.TransportError):
            doomed.gql(LOG_CALL, {"input": inp})
        assert doomed.proc.wait(10) == -signal.SIGKILL
    finally:
        doomed.stop()
    calls = crm_api["us"].records(f"SELECT Id FROM Call2_vod__c WHERE Subject_vod__c = '{subject}'")
    assert len(calls) == (0 if step == "after_intent" else 1)

    gw = GatewayProcess(gateway_env)
    try:
        out = gw.gql(LOG_CALL, {"input": inp})["data"]["logCall"]
        assert out["userErrors"] == [] and out["callId"], out
        if calls:
            assert out["callId"] == calls[0]["Id"]  # the replay found the call written before the crash
        assert gw.gql(LOG_CALL, {"input": inp})["data"]["logCall"]["callId"] == out["callId"]
        assert len(crm_api["us"].records(f"SELECT Id FROM Call2_vod__c WHERE Subject_vod__c = '{subject}'")) == 1

        def medical() -> list[dict]:
            return ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE crm_call_key__v = 'us:{out['callId']}'")
        wait_until(medical, timeout=15, what="the Medical Activity in the CTMS")
        time.sleep(0.5)  # a late duplicate delivery would show up now
        assert len(medical()) == 1
        _assert_no_pending_intents(gateway_env["CCGW_DATABASE_URL"])
    finally:
        gw.stop()
