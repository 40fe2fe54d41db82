"""The admin view's queries through the gateway: the audit trail paged and filtered by user and action, the FAILED
mirrors and the backlog; all of them CONNECTION_ADMIN only, refused (and audited) for anyone else."""

from __future__ import annotations

AMIR = "amir.haddad@ctms.example.com"
CLARA = "clara.oswald@ctms.example.com"
AUDIT = """query($first: Int, $after: String, $user: String, $action: String) {
  auditEntries(first: $first, after: $after, user: $user, action: $action) {
    edges { cursor node { at actor operation targetId outcome } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } }"""
ADMIN_LISTS = """{ failedMirrors(first: 5) { edges { node { activityId connectionName direction lastError } } }
  backlog { connectionName direction pending failed oldestPendingSeconds } }"""


def _page(gql, **variables) -> dict:  # noqa: ANN001 - a Gateway's gql
    body = gql(AUDIT, variables)
    assert "errors" not in body, body
    return body["data"]["auditEntries"]


def test_the_audit_trail_pages_and_filters_by_user_and_action(stack) -> None:  # noqa: ANN001 - e2e fixture
    amir = stack.as_user(AMIR)
    for _ in range(3):  # each refusal is kept in the audit trail, one per request
        assert amir.gql("{ auditEntries(first: 1) { edges { cursor } } }")["errors"][0]["extensions"]["code"] \
            == "FORBIDDEN"
    first = _page(stack.gql, first=2, user="AMIR.Haddad", action="auditEntries")
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    second = _page(stack.gql, first=2, after=first["pageInfo"]["endCursor"], user="amir.haddad",
                   action="auditEntries")
    assert second["pageInfo"]["hasPreviousPage"]
    entries = [e["node"] for e in first["edges"] + second["edges"]]
    assert len(entries) >= 3 and len({e["cursor"] for e in first["edges"] + second["edges"]}) == len(entries)
    assert all(AMIR in e["actor"] and e["operation"] == "auditEntries" and e["outcome"] == "forbidden"
               for e in entries)
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    others = _page(stack.gql, first=20, action="auditEntries", user="clara.oswald")["edges"]
    assert all(CLARA in e["node"]["actor"] for e in others)
    assert stack.as_user(CLARA).gql("{ backlog { pending } }")["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    unfiltered = _page(stack.gql, first=100)["edges"]
    assert {e["node"]["operation"] for e in unfiltered} >= {"auditEntries", "backlog"}, "unfiltered: every action"


def test_bad_filters_and_cursors_are_bad_input(stack) -> None:  # noqa: ANN001 - e2e fixture
    for variables in ({"action": "retry Sync; drop"}, {"user": "x" * 101}, {"after": "not-a-cursor"},
                      {"first": 0}, {"first": 101}):
        body = stack.gql(AUDIT, variables)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (variables, body)
    people_cursor = stack.gql("{ people(first: 1) { pageInfo { endCursor } } }")["data"]["people"]["pageInfo"]
    body = stack.gql(AUDIT, {"after": people_cursor["endCursor"]})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", "another list's cursor is refused"


def test_admin_lists_need_connection_admin(stack) -> None:  # noqa: ANN001 - e2e fixture
    admin = stack.gql(ADMIN_LISTS)
    assert "errors" not in admin, admin
    assert isinstance(admin["data"]["backlog"], list)
    for email in (CLARA, AMIR):
        body = stack.as_user(email).gql(ADMIN_LISTS)
        assert body["data"] is None
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    refused = _page(stack.gql, first=10, user=AMIR, action="failedMirrors")["edges"]
    assert refused and refused[0]["node"]["outcome"] == "forbidden"
