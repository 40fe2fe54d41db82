"""Incremental sync: records created directly in either system are mirrored after one polling cycle."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.writes.conftest import MATCHED, SITE, mirrors

# The polling rules are tested over in-memory sources in tests/resolvers/test_polling.py; this is the end to end run.
pytestmark = pytest.mark.slow


async def _one_cycle(settings, marks: dict[str, str]) -> int:
    from gateway.app import build_services
    from resolvers import delivery, polling

    services = build_services(settings)
    try:
        for source, mark in marks.items():
            await services.store.set_mark(source, mark)
        planned = await polling.poll_once(services)
        while await delivery.deliver_due(services, worker="test") > 0:
            pass
        return planned
    finally:
        await services.backends.close()
        await services.store.engine.dispose()


def test_direct_writes_are_mirrored_after_one_poll(stack, ctms_api, crm_api):
    from dataclasses import replace

    from gateway.demo import configure

    db = Path(tempfile.mkdtemp(prefix="ccgw-poll-")) / "gateway.db"
    settings = replace(stack.settings, database_url=f"sqlite:///{db}")
    configure(settings.database_url, stack.orgs)
    since = datetime.now(UTC) - timedelta(seconds=2)
    # Only what changes from now on: the seeded history is not this test's business.
    marks = {"ctms:activities": since.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    marks.update({f"crm:{org}:calls": since.strftime("%Y-%m-%dT%H:%M:%S.000+0000") for org in stack.orgs})
    day = (date.today() - timedelta(days=4)).isoformat()
    [ctms_id] = ctms_api.write("crm_activity__v", [{
        "object_type__v.api_name__v": "clinical_activity__v", "person__v": MATCHED, "site__v": SITE,
        "activity_date__v": day, "channel__v": "video__v", "completed__v": True, "subject__v": "direct in CTMS",
        "owner__v": "Rory Williams (rory@ctms.example.com)"}])
    [person] = ctms_api.rows(f"SELECT npi_number__c FROM person__sys WHERE id = '{MATCHED}'")
    [acc] = crm_api["eu"].records(f"SELECT Id FROM Account WHERE NPI_Number__c = '{person['npi_number__c']}'")
    [call_id] = crm_api["eu"].create("Call2_vod__c", [{
        "Account_vod__c": acc["Id"], "Call_Date_vod__c": day, "Status_vod__c": "Submitted_vod",
        "Call_Channel_vod__c": "Phone_vod", "Send_To_Vault_Clinical_vod__c": True}])
    assert asyncio.run(_one_cycle(settings, marks)) >= 2
    for api in crm_api.values():
        [vci] = mirrors(api, ctms_id)
        assert vci["Channel_vod__c"] == "Video_vod" and vci["Status_vod__c"] == "Submitted_vod"
        assert vci["Owner_Text_vod__c"] == "Rory Williams (rory@ctms.example.com)"
    [med] = ctms_api.rows("SELECT id, person__v, channel__v, completed__v FROM crm_activity__v "
                          f"WHERE crm_call_key__v = 'eu:{call_id}'")
    assert med["person__v"] == MATCHED and med["channel__v"] == ["phone__v"] and med["completed__v"] is True

    # Deleted directly at their system of record: the mirrors go too, after one more cycle.
    r = ctms_api.http.request("DELETE", "/vobjects/crm_activity__v", json=[{"id": ctms_id}]).json()
    assert r["data"][0]["responseStatus"] == "SUCCESS", r
    assert crm_api["eu"].http.delete(f"/services/data/v66.0/sobjects/Call2_vod__c/{call_id}").status_code == 204
    assert asyncio.run(_one_cycle(settings, {})) >= 2
    for api in crm_api.values():
        assert mirrors(api, ctms_id) == []
    assert ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE crm_call_key__v = 'eu:{call_id}'") == []
