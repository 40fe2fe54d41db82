"""logCall for a person without exactly one account in the org: a user error coded CONFLICT or NO_MATCH whose message
names neither the org's identifier field nor its accounts (connection details that need CONNECTION_ADMIN). Found by
the fuzz tests (tests/fuzz/): the message quoted the matching's own words, "2 accounts have External_ID_vod__c =
EXT-000002: 0010U000000002AAAA, 0010U000000003AAAA", to a user allowed to log calls but not to see connections."""

from __future__ import annotations

import pytest

from tests.conftest import IDENTIFIERS, global_id
from tests.writes.conftest import CONFLICT_US, NO_MATCH_EU

SOFIA = "sofia.lindgren@ctms.example.com"  # medical_viewer: may log calls, may not administer connections
LOG_CALL = """mutation($input: LogCallInput!) { logCall(input: $input) { callId userErrors { field message code } } }"""


@pytest.mark.parametrize(("org", "person", "code", "message"), [
    ("us", CONFLICT_US, "CONFLICT", "the person has more than one account in us"),
    ("eu", NO_MATCH_EU, "NO_MATCH", "the person has no account in eu"),
], ids=["conflict", "no-match"])
def test_no_single_account_is_told_without_connection_details(stack, org: str, person: str, code: str,
                                                              message: str) -> None:  # noqa: ANN001
    body = stack.as_user(SOFIA).gql(LOG_CALL, {"input": {
        "connectionId": global_id("Connection", org), "personId": global_id("Person", person), "date": "2026-01-20",
        "channel": "PHONE", "completed": True}})
    assert "errors" not in body, body
    assert body["data"]["logCall"] == {"callId": None, "userErrors": [
        {"field": ["input", "personId"], "message": message, "code": code}]}
    assert IDENTIFIERS[org][1] not in str(body)
