"""Bad input of every kind gets a clear GraphQL error (a code, a message naming the argument), never a 500, a stack
trace or a backend error passed through."""

from __future__ import annotations

import base64
import json

import pytest

PERSON = "0PE000000000003"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _post(stack, query: str, variables: dict | None = None) -> dict:  # noqa: ANN001
    r = stack.gateway.post(query, variables)
    assert r.status_code in (200, 400), r.text
    assert "Traceback" not in r.text and 'File "' not in r.text
    return r.json()


def _error(body: dict, code: str = "BAD_USER_INPUT", mentions: str | None = None) -> dict:
    assert body.get("errors"), body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert "INTERNAL" not in json.dumps(body)
    if mentions:
        assert mentions in error["message"], error
    return error


NODE = "query($id: ID!) { node(id: $id) { id } }"
PERSON_Q = "query($id: ID!) { person(id: $id) { id } }"


@pytest.mark.parametrize("bad", ["", "!!!", "not-base64-$$", _b64("Person"), _b64("Person:"), _b64("Per son:x"),
                                 _b64("Person:' OR 1=1 --"), _b64("Person:" + "x" * 300), "x" * 1000],
                         ids=["empty", "punctuation", "dollar", "no-colon", "no-raw", "bad-type", "injection",
                              "long-raw", "huge"])
def test_malformed_node_ids(stack, bad) -> None:
    body = _post(stack, NODE, {"id": bad})
    assert body["data"] == {"node": None}
    _error(body, mentions="id")


def test_unknown_node_type(stack) -> None:
    body = _post(stack, NODE, {"id": _b64("Spaceship:0PE000000000001")})
    assert body["data"] == {"node": None}
    _error(body, mentions="Spaceship")


@pytest.mark.parametrize("type_name,raw", [("Person", "0PE999999999999"), ("Study", "0ST999999999999"),
                                           ("ClinicalActivity", "0AC999999999999"),
                                           ("MedicalActivity", "us:a0C0U999999999AAAA"),
                                           ("StudySite", "0SI999999999999")])
def test_unknown_ids_are_null_not_errors(stack, gid, type_name, raw) -> None:
    """Well-formed ids of records that do not exist resolve to null (Relay's node contract), with no 5xx."""
    body = _post(stack, NODE, {"id": gid(type_name, raw)})
    assert body == {"data": {"node": None}}


def test_person_with_the_id_of_another_type(stack, gid) -> None:
    body = _post(stack, PERSON_Q, {"id": gid("Study", "0ST000000000001")})
    assert body["data"] == {"person": None}
    _error(body, mentions="Person")
    assert _post(stack, PERSON_Q, {"id": gid("Person", "0PE999999999999")}) == {"data": {"person": None}}
    body = _post(stack, PERSON_Q, {"id": "0PE' OR '1'='1"})
    _error(body)


TIMELINE = ("query($id: ID!, $first: Int, $after: String) { person(id: $id) { ctmsId "
            "timeline(first: $first, after: $after) { edges { cursor } } } }")


@pytest.mark.parametrize("first", [0, -1, 10000])
def test_first_out_of_range(stack, gid, first) -> None:
    body = _post(stack, TIMELINE, {"id": gid("Person", PERSON), "first": first})
    assert body["data"] == {"person": None}  # timeline is non-null: its error nulls the person
    error = _error(body, mentions="first")
    assert error["path"] == ["person", "timeline"]
    body = _post(stack, "query($n: Int) { people(first: $n) { edges { cursor } } }", {"n": first})
    assert body["data"] is None
    _error(body, mentions="first")


def test_people_cursor_in_the_timeline_and_the_other_way(stack, gid, gql) -> None:
    people_cursor = gql("{ people(first: 1) { edges { cursor } } }")["data"]["people"]["edges"][0]["cursor"]
    tl = gql(TIMELINE, {"id": gid("Person", PERSON), "first": 1})["data"]["person"]["timeline"]["edges"][0]["cursor"]
    _error(_post(stack, TIMELINE, {"id": gid("Person", PERSON), "after": people_cursor}), mentions="after")
    _error(_post(stack, "query($a: String) { people(after: $a) { edges { cursor } } }", {"a": tl}), mentions="after")


@pytest.mark.parametrize("cursor", [
    "", "garbage", "%%%%", "eyJ2IjoxfQ", _b64(json.dumps({"v": 2, "t": "tl", "d": "2026-01-01", "k": "ctms:0AC1"})),
    _b64(json.dumps({"v": 1, "t": "tl", "d": "not a date", "k": "ctms:0AC1"})),
    _b64(json.dumps({"v": 1, "t": "tl", "d": "2026-01-01", "k": "ctms:' OR 1=1 --"})),
    _b64(json.dumps({"v": 1, "t": "tl", "d": "2026-01-01", "k": 7})),
    _b64(json.dumps({"v": 1, "t": "tl", "d": "2026-01-01"})), _b64("[1, 2]"), "A" * 2000])
def test_malformed_timeline_cursors(stack, gid, cursor) -> None:
    body = _post(stack, TIMELINE, {"id": gid("Person", PERSON), "after": cursor})
    assert body["data"] == {"person": None}  # timeline is non-null: its error nulls the person
    assert _error(body, mentions="after")["path"] == ["person", "timeline"]


@pytest.mark.parametrize("query,variables", [
    ('{ people(first: "ten") { edges { cursor } } }', None),
    ("{ people(first: 1.5) { edges { cursor } } }", None),
    ("query($n: Int) { people(first: $n) { edges { cursor } } }", {"n": "abc"}),
    ("query($id: ID!) { person(id: $id) { id } }", {}),
    ("query($id: ID!) { person(id: $id) { id } }", {"id": {"nested": 1}}),
    ('{ person(id: "x") { timeline(filter: {channels: [FAX]}) { edges { cursor } } } }', None),
    ('{ person(id: "x") { timeline(filter: {from: "2026-13-45"}) { edges { cursor } } } }', None),
    ('{ person(id: "x") { timeline(filter: {statuses: "DONE"}) { edges { cursor } } } }', None),
    ("{ person { id } }", None),
], ids=["string-for-int", "float-for-int", "variable-type", "missing-variable", "object-for-id", "unknown-enum",
        "bad-date", "bad-status", "missing-argument"])
def test_wrong_types_are_validation_errors(stack, query, variables) -> None:
    r = stack.gateway.post(query, variables)
    assert r.status_code in (200, 400) and "Traceback" not in r.text
    body = r.json()
    assert body.get("data") is None and body["errors"], body
    assert all(e["extensions"]["code"] in ("GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT") for e in body["errors"]
               if "extensions" in e), body


def test_filter_from_after_to(stack, gid) -> None:
    body = _post(stack, "query($id: ID!) { person(id: $id) { timeline(filter: {from: \"2026-05-02\", "
                        "to: \"2026-05-01\"}) { edges { cursor } } } }", {"id": gid("Person", PERSON)})
    _error(body, mentions="from")


@pytest.mark.parametrize("search", ["x" * 101, "a\x00b", "bad\nline", "%", "100%"])
def test_bad_search(stack, search) -> None:
    _error(_post(stack, "query($s: String) { people(search: $s) { edges { cursor } } }", {"s": search}),
           mentions="search")


@pytest.mark.parametrize("search", ["' OR 1=1 --", "_", "\\", "O'Brien", "\") OR (\"1\"=\"1"])
def test_injection_attempts_in_search_are_just_text(stack, search) -> None:
    body = _post(stack, "query($s: String) { people(search: $s, first: 100) { edges { node { lastName email } } } }",
                 {"s": search})
    assert "errors" not in body, body
    for edge in body["data"]["people"]["edges"]:
        assert search.lower() in (edge["node"]["lastName"] + " " + (edge["node"]["email"] or "")).lower()
    if search == "O'Brien":
        assert body["data"]["people"]["edges"]
