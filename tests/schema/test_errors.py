"""What a caller and the log see of each kind of error: a code and our own words plus the request id for the caller;
one line for a caller's mistake or a failing source, a traceback only for what nobody expected."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from graphql import GraphQLError

from datasources.errors import SourceError, SourceRejected, SourceUnavailable
from resolvers.errors import BadInput, Forbidden, NotFound
from schema.errors import log_source_failure, shape_error
from schema.root import schema


def _error(exc: Exception, path: tuple = ("person", "timeline")) -> GraphQLError:
    return GraphQLError(str(exc), path=list(path), original_error=exc)


def _context(request_id: str) -> SimpleNamespace:
    """Just enough of strawberry's execution context: the Starlette request and the id the gateway gave it."""
    return SimpleNamespace(context={"request": SimpleNamespace(state=SimpleNamespace(request_id=request_id))})


@pytest.mark.parametrize(("exc", "message", "extensions"), [
    (NotFound("no person 0PE1 in the CTMS"), "no person 0PE1 in the CTMS", {"code": "NOT_FOUND"}),
    (BadInput("first: at most 100", field="first"), "first: at most 100", {"code": "BAD_USER_INPUT", "field": "first"}),
    (Forbidden("needs CONNECTION_ADMIN"), "needs CONNECTION_ADMIN", {"code": "FORBIDDEN"}),
    (SourceRejected("crm:us", "request refused", code="INVALID_FIELD", status=400), "crm:us refused the request",
     {"code": "SOURCE_UNAVAILABLE", "source": "crm:us", "reason": "REJECTED"}),
    (SourceUnavailable("ctms", "timed out"), "ctms is unavailable",
     {"code": "SOURCE_UNAVAILABLE", "source": "ctms", "reason": "UNAVAILABLE"}),
    (KeyError("person__v"), "Internal error; it has been logged.", {"code": "INTERNAL_SERVER_ERROR"}),
    (LookupError("a bug, not a missing record"), "Internal error; it has been logged.",
     {"code": "INTERNAL_SERVER_ERROR"}),
], ids=["not-found", "bad-input", "forbidden", "rejected", "unavailable", "key-error", "lookup-error"])
def test_each_kind_gets_its_code_our_words_and_the_request_id(exc: Exception, message: str, extensions: dict) -> None:
    shaped = shape_error(_error(exc), "req-1")
    assert shaped.message == message
    assert shaped.extensions == {**extensions, "requestId": "req-1"}
    assert shaped.path == ["person", "timeline"]


def _records(caplog: pytest.LogCaptureFixture, exc: Exception) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        schema.process_errors([_error(exc)], _context("req-7"))  # type: ignore[arg-type]
    return list(caplog.records)


@pytest.mark.parametrize("exc", [NotFound("no person Jane Roe"), BadInput("search: 'Jane Roe' is too long"),
                                 Forbidden("medical activities need MEDICAL_ACTIVITY_VIEW")])
def test_a_callers_mistake_is_one_line_without_its_text_or_a_traceback(caplog, exc: Exception) -> None:
    [record] = _records(caplog, exc)
    assert record.levelno == logging.INFO and record.exc_info is None
    text = record.getMessage()
    assert "req-7" in text and exc.code in text and "person.timeline" in text  # type: ignore[attr-defined]
    assert "Jane" not in text and "MEDICAL_ACTIVITY_VIEW" not in text


def test_a_failing_source_is_one_line_with_status_and_code(caplog) -> None:
    [record] = _records(caplog, SourceRejected("crm:us", "request refused", code="INVALID_FIELD", status=400))
    assert record.levelno == logging.WARNING and record.exc_info is None
    text = record.getMessage()
    assert all(part in text for part in ("req-7", "crm:us", "refused", "400", "INVALID_FIELD", "person.timeline"))


def test_an_unexpected_error_is_logged_with_its_traceback(caplog) -> None:
    [record] = _records(caplog, KeyError("person__v"))
    assert record.levelno == logging.ERROR and "req-7" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


def test_strawberry_logs_nothing_of_its_own(caplog) -> None:
    records = _records(caplog, KeyError("x")) + _records(caplog, BadInput("x"))
    assert records and not [r for r in records if r.name.startswith("strawberry")]


def test_a_bug_while_reading_a_source_is_a_partial_failure_logged_with_its_traceback(caplog) -> None:
    failure = SourceError.unexpected("crm:eu", ZeroDivisionError("division by zero"))
    with caplog.at_level(logging.INFO):
        log_source_failure(failure, ("person", "accounts"), "req-9")
    [record] = caplog.records
    assert record.levelno == logging.ERROR and "crm:eu" in record.getMessage() and "req-9" in record.getMessage()
    assert isinstance(record.exc_info[1], ZeroDivisionError)  # type: ignore[index]
