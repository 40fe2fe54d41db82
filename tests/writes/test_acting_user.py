"""A write names the user who made it: the owner text on both sides and the audit trail carry their token's identity."""

from __future__ import annotations

import jwt

from tests.writes.conftest import CREATE, mirrors, new_input, unique_key, wait_synced

MARTIN = "martin.keller@ctms.example.com"
OWNER = "Martin Keller (martin.keller@ctms.example.com)"


def test_a_write_by_martin_names_him_everywhere(stack, ctms_api, crm_api) -> None:
    martin = stack.as_user(MARTIN)
    payload = martin.gql(CREATE, {"input": new_input(subject="logged by martin")})["data"]["createClinicalActivity"]
    assert payload["userErrors"] == []
    act = payload["activity"]
    assert act["owner"] == OWNER
    [rec] = ctms_api.rows(f"SELECT owner__v FROM crm_activity__v WHERE id = '{act['ctmsId']}'")
    assert rec["owner__v"] == OWNER
    wait_synced(stack.gql, act["id"], {"us": "SYNCED", "eu": "SYNCED"})
    for api in crm_api.values():
        [vci] = mirrors(api, act["ctmsId"])
        assert vci["Owner_Text_vod__c"] == OWNER
    sub = jwt.decode(stack.token(MARTIN), options={"verify_signature": False})["sub"]
    log = stack.gql("{ auditLog(first: 20) { actor operation targetId outcome detail } }")["data"]["auditLog"]
    entry = next(e for e in log if e["operation"] == "createClinicalActivity" and e["targetId"] == act["ctmsId"])
    assert entry["actor"] == f"{sub} ({MARTIN})" and entry["outcome"] == "ok"


def test_idempotency_keys_belong_to_their_user(stack) -> None:
    """The same key sent by two users is two requests: one user's key never replays another's activity."""
    inp = new_input(subject="same key, two users", key=unique_key())
    first = stack.as_user(MARTIN).gql(CREATE, {"input": inp})["data"]["createClinicalActivity"]["activity"]
    second = stack.as_user("clara.oswald@ctms.example.com").gql(CREATE, {"input": inp})["data"][
        "createClinicalActivity"]["activity"]
    assert first["ctmsId"] != second["ctmsId"]
    assert first["owner"] == OWNER and second["owner"].startswith("Clara Oswald")
