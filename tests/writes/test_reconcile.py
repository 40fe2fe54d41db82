"""Reconciliation against the stand-ins: drift made behind the gateway's back (a mirror deleted or changed in an org,
an activity created in the CTMS with the poller off, an activity deleted there, a call sent to Clinical in an org)
found and repaired through the outbox by `ccgw reconcile` and the `reconcile` mutation, a second run finding
everything in step; a dry run changes nothing; an interrupted run finishes the job when run again, doubling nothing.

Each test works in its own band of far-future activity dates, later than the bands before it, and reconciles from
the start of its band: what other tests write is never in its window."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from tests.conftest import ADMIN, SalesforceApi, VaultApi, global_id
from tests.writes.conftest import MATCHED, NO_MATCH_EU, SITE, mirrors, sync_states, wait_synced, wait_until

# What each comparison concludes and plans is tested over in-memory sources (tests/resolvers/test_reconcile.py);
# these are the end to end runs.
pytestmark = pytest.mark.slow
CLARA = "clara.oswald@ctms.example.com"
VCI = "/services/data/v66.0/sobjects/Vault_Clinical_Interaction_vod__c"
BASE = date.today() + timedelta(days=4000)
SUMMARY = ("compared", "in_step", "repaired", "orphaned", "unmatched", "failed", "pending")
RECONCILE = """mutation($input: ReconcileInput!) { reconcile(input: $input) {
  job { id state dryRun since connection { name } } userErrors { field message code } } }"""
JOB = """query($id: ID!) { reconcileJob(id: $id) { id state phase done total error connection { name }
  summary { compared inStep repaired orphaned unmatched failed pending } } }"""

runner = CliRunner()


def band(n: int) -> date:
    return BASE + timedelta(days=100 * n)


def counts(compared: int, in_step: int = 0, repaired: int = 0, orphaned: int = 0, unmatched: int = 0) -> dict:
    return dict(zip(SUMMARY, (compared, in_step, repaired, orphaned, unmatched, 0, 0), strict=True))


@pytest.fixture
def cli(stack) -> Callable[..., dict]:
    """`cli(connection, since, *flags)` -> the JSON summary of `ccgw reconcile ... --json` over the stack's store."""
    env = {"CCGW_DATABASE_URL": stack.settings.database_url, "CCGW_CTMS_URL": stack.ctms.url,
           "CCGW_CTMS_TIMEOUT_S": "5", "CCGW_CRM_TIMEOUT_S": "5"}

    def run(connection: str, since: date, *flags: str) -> dict:
        result = runner.invoke(app, ["reconcile", "--connection", connection, "--since", since.isoformat(), "--json",
                                     "--wait", "30", *flags], env=env)
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert (out["connection"], out["since"], out["dry_run"]) == (connection, since.isoformat(),
                                                                     "--dry-run" in flags)
        return {k: out[k] for k in SUMMARY}

    run.env = env  # type: ignore[attr-defined]
    return run


def _gateway_activity(stack, create, day: date, person: str = MATCHED, expected: dict | None = None) -> str:
    made = create(person=person, day=day, completed=False, subject=f"reconcile {day}")
    assert made["userErrors"] == [], made
    gid = made["activity"]["id"]
    wait_synced(stack.gql, gid, expected or {"us": "SYNCED", "eu": "SYNCED"})
    return made["activity"]["ctmsId"]


def _only_mirror(api: SalesforceApi, ctms_id: str) -> dict:
    [vci] = mirrors(api, ctms_id)
    return vci


def _direct_activity(ctms_api: VaultApi, day: date, subject: str) -> str:
    [ctms_id] = ctms_api.write("crm_activity__v", [{
        "object_type__v.api_name__v": "clinical_activity__v", "person__v": MATCHED, "site__v": SITE,
        "activity_date__v": day.isoformat(), "channel__v": "video__v", "completed__v": False, "subject__v": subject,
        "owner__v": "Rory Williams (rory@ctms.example.com)"}])
    return ctms_id


def _delete_in_ctms(ctms_api: VaultApi, ctms_id: str) -> None:
    r = ctms_api.http.request("DELETE", "/vobjects/crm_activity__v", json=[{"id": ctms_id}]).json()
    assert r["data"][0]["responseStatus"] == "SUCCESS", r


def _direct_call(ctms_api: VaultApi, api: SalesforceApi, day: date) -> str:
    [person] = ctms_api.rows(f"SELECT external_id__v FROM person__sys WHERE id = '{MATCHED}'")
    [acc] = api.records(f"SELECT Id FROM Account WHERE External_ID_vod__c = '{person['external_id__v']}'")
    [call_id] = api.create("Call2_vod__c", [{
        "Account_vod__c": acc["Id"], "Call_Date_vod__c": day.isoformat(), "Status_vod__c": "Planned_vod",
        "Call_Channel_vod__c": "Phone_vod", "Subject_vod__c": "sent behind the gateway",
        "Send_To_Vault_Clinical_vod__c": True}])
    return call_id


def test_reconcile_repairs_deleted_changed_missing_and_orphaned_mirrors(stack, create, cli, ctms_api, crm_api):
    day = band(1)
    a = _gateway_activity(stack, create, day)
    b = _gateway_activity(stack, create, day)
    gone = _gateway_activity(stack, create, day)
    _gateway_activity(stack, create, day, person=NO_MATCH_EU, expected={"us": "SYNCED", "eu": "NO_MATCH"})
    b_subject = _only_mirror(crm_api["eu"], b)["Subject_vod__c"]
    # (a) a mirror deleted in an org; (b) a mirror changed in an org; (c) an activity whose mirrors never existed
    # (the poller is off); an activity deleted in the CTMS, its mirrors left behind; a call sent to Clinical in us.
    assert crm_api["us"].http.delete(f"{VCI}/{_only_mirror(crm_api['us'], a)['Id']}").status_code == 204
    changed = crm_api["eu"].http.patch(f"{VCI}/{_only_mirror(crm_api['eu'], b)['Id']}",
                                       json={"Subject_vod__c": "changed behind the gateway",
                                             "Channel_vod__c": "Email_vod"})
    assert changed.status_code == 204, changed.text
    c = _direct_activity(ctms_api, day, "created directly in the CTMS")
    _delete_in_ctms(ctms_api, gone)
    call_id = _direct_call(ctms_api, crm_api["us"], day)

    # us: a and c missing, the call's copy missing, gone's mirror orphaned; b and the one without an eu account
    # in step.
    assert cli("us", day) == counts(6, in_step=2, repaired=3, orphaned=1)
    # eu: b stale, c missing, gone's mirror orphaned; a in step; one person has no account there.
    assert cli("eu", day) == counts(5, in_step=1, repaired=2, orphaned=1, unmatched=1)

    _only_mirror(crm_api["us"], a)
    restored = _only_mirror(crm_api["eu"], b)
    assert (restored["Subject_vod__c"], restored["Channel_vod__c"]) == (b_subject, "Phone_vod")
    for api in crm_api.values():
        vci = _only_mirror(api, c)
        assert (vci["Channel_vod__c"], vci["Owner_Text_vod__c"]) == ("Video_vod",
                                                                      "Rory Williams (rory@ctms.example.com)")
        assert mirrors(api, gone) == []
    [copy] = ctms_api.rows(f"SELECT person__v, subject__v FROM crm_activity__v WHERE crm_call_key__v = 'us:{call_id}'")
    assert copy == {"person__v": MATCHED, "subject__v": "sent behind the gateway"}
    # The store knows what was repaired: the activity made behind its back now reports where its mirrors stand.
    assert sync_states(stack.gql, global_id("ClinicalActivity", c)) == {"us": "SYNCED", "eu": "SYNCED"}

    # A second run finds everything in step.
    assert cli("us", day) == counts(5, in_step=5)
    assert cli("eu", day) == counts(4, in_step=3, unmatched=1)


def test_a_dry_run_changes_nothing(stack, create, cli, crm_api):
    day = band(2)
    a = _gateway_activity(stack, create, day)
    assert crm_api["us"].http.delete(f"{VCI}/{_only_mirror(crm_api['us'], a)['Id']}").status_code == 204
    gid = global_id("ClinicalActivity", a)

    assert cli("us", day, "--dry-run") == counts(1, repaired=1)
    assert cli("us", day, "--dry-run") == counts(1, repaired=1)  # nothing planned: the same again
    assert sync_states(stack.gql, gid) == {"us": "SYNCED", "eu": "SYNCED"}  # nothing planned in the outbox
    time.sleep(1.0)  # the worker runs every 0.2 s: a planned repair would have been delivered by now
    assert mirrors(crm_api["us"], a) == []

    # Without --dry-run, a table on the terminal.
    result = runner.invoke(app, ["reconcile", "--connection", "us", "--since", day.isoformat(), "--wait", "30"],
                           env=cli.env)
    assert result.exit_code == 0, result.output
    header, values = _table(result.stdout)
    assert header == ["compared", "in step", "repaired", "orphaned", "unmatched", "failed", "pending"]
    assert values == ["1", "0", "1", "0", "0", "0", "0"]
    assert f"Reconciliation of us since {day.isoformat()}" in result.stdout
    _only_mirror(crm_api["us"], a)


def _table(text: str) -> tuple[list[str], list[str]]:
    """The header and the one row of rich's summary table."""
    rows = [[cell.strip() for cell in line.strip("┃│ ").split("┃" if "┃" in line else "│")]
            for line in text.splitlines() if line.count("│") > 2 or line.count("┃") > 2]
    header, values = rows[0], rows[1]
    return [" ".join(h.split()) for h in header], values


def test_an_unknown_or_disabled_connection_is_refused(cli):
    result = runner.invoke(app, ["reconcile", "--connection", "nowhere", "--json"], env=cli.env)
    assert result.exit_code == 2 and "no enabled connection nowhere" in result.output
    assert "Traceback" not in result.output
    bad_date = runner.invoke(app, ["reconcile", "--connection", "us", "--since", "yesterday"], env=cli.env)
    assert bad_date.exit_code == 2 and "Traceback" not in bad_date.output


def test_an_interrupted_run_is_finished_by_the_next_without_doubling(stack, create, crm_api):
    from gateway.app import build_services
    from resolvers.reconcile_jobs import begin, run_job

    day = band(3)
    acts = [_gateway_activity(stack, create, day) for _ in range(3)]
    for a in acts:
        assert crm_api["us"].http.delete(f"{VCI}/{_only_mirror(crm_api['us'], a)['Id']}").status_code == 204

    async def interrupted() -> str:
        services = build_services(stack.settings)
        try:
            job = await begin(services, "us", day, False, "test")
            task: asyncio.Task | None = None

            def stop_after_first_repair(phase: str, done: int, total: int) -> None:
                if (phase, done) == ("repairing", 1) and task is not None:
                    task.cancel()  # as Ctrl-C would, at the next await

            task = asyncio.create_task(run_job(services, job, wait_s=30, listener=stop_after_first_repair))
            with pytest.raises(asyncio.CancelledError):
                await task
            return job.id
        finally:
            await services.backends.close()
            await services.store.engine.dispose()

    job_id = asyncio.run(interrupted())
    job = stack.gql(JOB, {"id": job_id})["data"]["reconcileJob"]
    assert (job["state"], job["phase"], job["summary"]) == ("INTERRUPTED", "repairing", None), job

    async def twice_at_once() -> list:
        services = build_services(stack.settings)
        try:
            jobs = [await begin(services, "us", day, False, "test") for _ in range(2)]
            return await asyncio.gather(*(run_job(services, j, wait_s=30) for j in jobs))
        finally:
            await services.backends.close()
            await services.store.engine.dispose()

    # Two runs at once finish the job: each activity's mirror is back, once.
    first, second = asyncio.run(twice_at_once())
    for summary in (first, second):
        assert summary.compared == 3 and summary.failed == 0 and summary.orphaned == 0
        assert summary.repaired + summary.in_step + summary.pending == 3
    for a in acts:
        _only_mirror(crm_api["us"], a)
        assert sync_states(stack.gql, global_id("ClinicalActivity", a))["us"] == "SYNCED"


def test_the_reconcile_mutation_starts_a_job_whose_progress_and_summary_can_be_read(stack, create, crm_api):
    day = band(4)
    a = _gateway_activity(stack, create, day)
    vci = _only_mirror(crm_api["us"], a)
    assert crm_api["us"].http.patch(f"{VCI}/{vci['Id']}", json={"Status_vod__c": "Submitted_vod",
                                                                "Interaction_Date_vod__c": "2020-01-01"}
                                    ).status_code == 204
    conn = global_id("Connection", "us")

    body = stack.gql(RECONCILE, {"input": {"connectionId": conn, "since": day.isoformat()}})
    assert "errors" not in body, body
    started = body["data"]["reconcile"]
    assert started["userErrors"] == []
    assert (started["job"]["dryRun"], started["job"]["since"], started["job"]["connection"]) == (
        False, day.isoformat(), {"name": "us"})
    job_id = started["job"]["id"]

    def done() -> dict | None:
        job = stack.gql(JOB, {"id": job_id})["data"]["reconcileJob"]
        assert job["state"] in ("RUNNING", "DONE"), job
        return job if job["state"] == "DONE" else None

    job = wait_until(done, timeout=30, what="the reconcile job")
    # The mirror's date moved out of the window: found by its activity's id all the same.
    assert job["summary"] == {"compared": 1, "inStep": 0, "repaired": 1, "orphaned": 0, "unmatched": 0, "failed": 0,
                              "pending": 0}
    assert (job["phase"], job["done"], job["total"], job["error"]) == ("delivering", 1, 1, None)
    repaired = _only_mirror(crm_api["us"], a)
    assert (repaired["Status_vod__c"], repaired["Interaction_Date_vod__c"]) == ("Planned_vod", day.isoformat())
    log = stack.gql("{ auditLog(first: 20) { operation targetId detail } }")["data"]["auditLog"]
    assert any(e["operation"] == "reconcile" and e["targetId"] == "us" and job_id in e["detail"] for e in log)

    # Bad input is a user error, and starts nothing.
    for connection_id, code in ((global_id("Connection", "nowhere"), "NOT_FOUND"),
                                (global_id("Person", MATCHED), "INVALID_ID")):
        refused = stack.gql(RECONCILE, {"input": {"connectionId": connection_id}})["data"]["reconcile"]
        assert refused["job"] is None and [e["code"] for e in refused["userErrors"]] == [code], refused
    assert stack.gql(JOB, {"id": "0" * 32}) == {"data": {"reconcileJob": None}}
    assert stack.gql(JOB, {"id": "not a job"}) == {"data": {"reconcileJob": None}}


def test_reconcile_is_for_connection_admins(stack):
    clara = stack.as_user(CLARA)
    body = clara.gql(RECONCILE, {"input": {"connectionId": global_id("Connection", "us"), "dryRun": True}})
    assert body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert "CONNECTION_ADMIN" in body["errors"][0]["message"]
    started = stack.as_user(ADMIN).gql(RECONCILE, {"input": {"connectionId": global_id("Connection", "us"),
                                                             "since": band(9).isoformat(), "dryRun": True}})
    job_id = started["data"]["reconcile"]["job"]["id"]
    refused = clara.gql(JOB, {"id": job_id})
    assert refused["data"] == {"reconcileJob": None} or refused["data"] is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    log = stack.gql("{ auditLog(first: 20) { actor operation outcome } }")["data"]["auditLog"]
    assert any(e["operation"] == "reconcile" and e["outcome"] == "forbidden" and CLARA in e["actor"] for e in log)
