"""logCall to an org that is down is a source outage (a SOURCE_UNAVAILABLE error naming the org, for the client to
retry), not a user error, and writes nothing. Found by the soak (bench/soak.py): it answered a user error coded
PENDING ("the person has no single account in eu: matching postponed"), which a client takes as final."""

from __future__ import annotations

import uuid

from tests.conftest import global_id
from tests.writes.conftest import MATCHED

LOG_CALL = """mutation($input: LogCallInput!) { logCall(input: $input) { callId userErrors { field message code } } }"""


def test_log_call_to_an_org_that_is_down_is_a_source_outage(stack, knobs, crm_api) -> None:
    gw = stack.start_gateway(worker=False)  # its own caches: the person's accounts are not known yet
    subject = f"logged during an outage {uuid.uuid4().hex[:8]}"
    knobs(stack.orgs["eu"], outage="503")
    body = gw.gql(LOG_CALL, {"input": {"connectionId": global_id("Connection", "eu"),
                                        "personId": global_id("Person", MATCHED), "date": "2026-01-20",
                                        "channel": "PHONE", "completed": True, "subject": subject}})
    knobs(stack.orgs["eu"], outage=None)
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["message"] == "crm:eu is unavailable"
    assert {k: error["extensions"][k] for k in ("code", "source", "reason")} == {
        "code": "SOURCE_UNAVAILABLE", "source": "crm:eu", "reason": "UNAVAILABLE"}
    assert crm_api["eu"].records(f"SELECT Id FROM Call2_vod__c WHERE Subject_vod__c = '{subject}'") == []
