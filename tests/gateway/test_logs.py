"""Log lines: JSON by default, readable text by setting; one line per request with its id, the user's `sub`, the
operation, the status, the outcome and the duration; every line written during a request names it."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum

import pytest

from gateway.logs import JsonFormatter, TextFormatter, configure_logging, formatter, pseudonym
from tests.conftest import ADMIN, KNOB_DEFAULTS, Stack, set_knobs
from tests.writes.conftest import wait_until


class _Kind(Enum):
    A = 1


class _Named(StrEnum):
    B = "b"


@dataclass
class _Record:
    n: int

QUERY = "query LogsTimeline($id: ID!) { person(id: $id) { timeline(first: 3) { edges { node { id } } } } }"


@pytest.fixture
def json_lines() -> Iterator[list[dict]]:
    """Every record of the ccgw loggers while the test runs, formatted as the gateway's JSON lines."""
    lines: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(JsonFormatter().format(record)))

    handler = Collect(logging.INFO)
    logger = logging.getLogger("ccgw")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def _request_lines(lines: list[dict], rid: str) -> list[dict]:
    """The request line of `rid`: it is written once the answer has gone, so it may come a moment after it."""
    return wait_until(lambda: [x for x in lines if x["logger"] == "ccgw.request" and x.get("request_id") == rid],
                      timeout=5, what=f"the log line of {rid}")  # type: ignore[return-value]


def test_a_request_line_has_the_id_the_user_the_operation_and_how_it_went(stack: Stack, gid, json_lines) -> None:
    from emulators.idp.users import find_user

    rid = f"logs-{uuid.uuid4().hex[:8]}"
    body = stack.gql(QUERY, {"id": gid("Person", "0PE000000000003")}, headers={"X-Request-Id": rid})
    assert "errors" not in body
    [line] = _request_lines(json_lines, rid)
    assert line["level"] == "info" and line["time"].endswith("+00:00")
    assert line["sub"] == find_user(ADMIN).sub  # the identity provider's opaque subject
    assert (line["method"], line["route"], line["status"]) == ("POST", "/graphql", 200)
    assert (line["operation_type"], line["operation_name"], line["outcome"]) == ("query", "LogsTimeline", "success")
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert "error_codes" not in line
    assert "LogsTimeline" in line["message"] and "200" in line["message"]


def test_a_refused_request_is_logged_without_a_user(stack: Stack, json_lines) -> None:
    rid = f"logs-{uuid.uuid4().hex[:8]}"
    r = stack.gateway.post("{ viewer { email } }", token="garbage", headers={"X-Request-Id": rid})
    assert r.status_code == 401
    [line] = _request_lines(json_lines, rid)
    assert line["status"] == 401 and line["outcome"] == "refused" and line["sub"] is None
    assert "operation_name" not in line
    # The authentication's own line names the request too.
    assert any(x["logger"] == "ccgw.auth" and x.get("request_id") == rid for x in json_lines)


def test_a_partial_answer_names_its_error_codes_and_every_line_of_the_request_its_id(stack: Stack, gid,
                                                                                       json_lines) -> None:
    rid = f"logs-{uuid.uuid4().hex[:8]}"
    set_knobs(stack.orgs["us"], outage="503")
    try:
        body = stack.gql(QUERY, {"id": gid("Person", "0PE000000000003")}, headers={"X-Request-Id": rid})
    finally:
        set_knobs(stack.orgs["us"], **KNOB_DEFAULTS)
    assert body["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    [line] = _request_lines(json_lines, rid)
    assert line["outcome"] == "partial" and line["error_codes"] == ["SOURCE_UNAVAILABLE"]
    failure = [x for x in json_lines if x["logger"] == "ccgw.graphql" and x.get("request_id") == rid]
    assert failure and failure[0]["level"] == "warning" and "crm:us" in failure[0]["message"]


def test_a_client_gone_before_its_body_arrived_is_499_not_a_server_error(stack: Stack, json_lines) -> None:
    import socket
    from urllib.parse import urlsplit

    rid = f"logs-{uuid.uuid4().hex[:8]}"
    url = urlsplit(stack.url)
    head = (f"POST /graphql HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {stack.token(ADMIN)}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 500\r\nX-Request-Id: {rid}\r\n\r\n")
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(head.encode() + b'{"query": "{ viewer')  # then gone, 480 bytes short
    [line] = _request_lines(json_lines, rid)
    assert (line["status"], line["outcome"], line["level"]) == (499, "client_closed", "info")
    assert line["sub"] is not None  # the token was checked before the body was read


def test_health_probes_are_not_logged_unless_they_fail(stack: Stack, json_lines) -> None:
    assert stack.gateway.client.get("/healthz", headers={"X-Request-Id": "probe-1"}).status_code == 200
    rid = f"logs-{uuid.uuid4().hex[:8]}"
    stack.gql("{ viewer { email } }", headers={"X-Request-Id": rid})
    _request_lines(json_lines, rid)  # written after the probe's would have been
    assert not [x for x in json_lines if x.get("request_id") == "probe-1"]


def test_text_lines_are_readable_with_the_fields_at_the_end() -> None:
    record = logging.LogRecord("ccgw.request", logging.INFO, __file__, 1, "POST /graphql query X: %d success", (200,),
                               None)
    record.fields = {"request_id": "r-1", "status": 200, "sub": None}
    text = TextFormatter().format(record)
    assert text.endswith("INFO    ccgw.request POST /graphql query X: 200 success [request_id=r-1 status=200]")


@pytest.mark.parametrize("fields", [
    {"text": "Zoë \u2028 \"quoted\"", "n": 3, "ms": 1.5, "none": None, "list": [1, "a"], "pair": (1, 2)},
    {"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "day": date(2026, 1, 2), "id": uuid.UUID(int=7),
     "kind": _Kind.A, "named": _Named.B, "record": _Record(1)},
    {"huge": 2**70}, {7: "a key that is no string"},
])
def test_a_json_line_holds_what_json_dumps_would_with_str_for_the_rest(fields: dict) -> None:
    record = logging.LogRecord("ccgw.x", logging.INFO, __file__, 1, "done in %s", ("1 ms",), None)
    record.fields = fields
    line = json.loads(JsonFormatter().format(record))
    expected = json.loads(json.dumps({"time": line["time"], "level": "info", "logger": "ccgw.x",
                                      "message": "done in 1 ms", **fields}, default=str))
    if "kind" in fields:
        expected["kind"] = 1  # an enum is written as its value (json.dumps would write str(): "_Kind.A")
    assert line == expected


def test_a_traceback_stays_in_the_line_as_a_field() -> None:
    try:
        raise KeyError("x")
    except KeyError:
        record = logging.LogRecord("ccgw", logging.ERROR, __file__, 1, "boom", (), __import__("sys").exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "boom" and "KeyError" in line["exception"] and "\n" in line["exception"]


def test_configure_writes_json_or_text_and_refuses_anything_else() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        stream = io.StringIO()
        configure_logging("json", stream=stream)
        logging.getLogger("ccgw.test").info("hello %s", "there")
        assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "hello there"
        assert logging.getLogger("uvicorn.access").disabled
        stream = io.StringIO()
        configure_logging("text", stream=stream)  # replaces the handler it installed, adds no second one
        logging.getLogger("ccgw.test").info("hello")
        assert stream.getvalue().rstrip().endswith("ccgw.test hello")
        assert len([h for h in root.handlers if h.get_name() == "ccgw"]) == 1
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False
    with pytest.raises(SystemExit, match="CCGW_LOG_FORMAT must be json or text"):
        formatter("xml")


def test_a_subject_holding_an_email_is_logged_as_a_hash() -> None:
    assert pseudonym("4b7c0c0e-2d1a-5f6e-9c3b-1f2e3d4c5b6a") == "4b7c0c0e-2d1a-5f6e-9c3b-1f2e3d4c5b6a"
    hashed = pseudonym("local:clara.oswald@ctms.example.com")
    assert hashed and hashed.startswith("sha256:") and "clara" not in hashed
    assert hashed == pseudonym("local:clara.oswald@ctms.example.com") and pseudonym(None) is None
