"""Clinical activity input: one person, exactly one context, no completed future activity, text sizes."""

from datetime import date, timedelta

import pytest

from domain.channels import Channel
from domain.errors import ValidationFailed
from domain.models import ContextKind, ContextRef
from domain.validation import (
    IDEMPOTENCY_KEY_MAX,
    SUBJECT_MAX,
    NewClinicalActivity,
    validate_new_activity,
    validate_update,
)

TODAY = date(2025, 6, 15)


def new(**overrides):
    args = {
        "person_id": "P1",
        "contexts": {ContextKind.STUDY: "S1"},
        "day": TODAY,
        "channel": Channel.PHONE,
        "completed": False,
        "subject": "Kick-off",
        "today": TODAY,
    }
    args.update(overrides)
    return validate_new_activity(**args)


def refused(**overrides):
    with pytest.raises(ValidationFailed) as info:
        new(**overrides)
    return info.value


def codes(exc):
    return [e.code for e in exc.errors]


def test_valid_input_gives_the_activity():
    assert new() == NewClinicalActivity("P1", ContextRef(ContextKind.STUDY, "S1"), TODAY, Channel.PHONE, False,
                                        "Kick-off")


@pytest.mark.parametrize("kind", list(ContextKind))
def test_each_context_kind_is_accepted(kind):
    contexts = {k: None for k in ContextKind}
    contexts[kind] = "X1"
    assert new(contexts=contexts).context == ContextRef(kind, "X1")


@pytest.mark.parametrize("person_id", [None, ""])
def test_missing_person_is_refused(person_id):
    exc = refused(person_id=person_id)
    assert codes(exc) == ["PERSON_REQUIRED"]
    assert exc.errors[0].field == ("input", "personId")
    assert "exactly one person" in exc.errors[0].message


@pytest.mark.parametrize(
    "contexts", [{}, {ContextKind.STUDY: None}, {ContextKind.STUDY: "", ContextKind.STUDY_SITE: None}]
)
def test_zero_contexts_is_refused(contexts):
    exc = refused(contexts=contexts)
    assert codes(exc) == ["CONTEXT_REQUIRED"]
    assert exc.errors[0].field == ("input", "context")
    assert "exactly one of a study, study country, study site or study personnel" in exc.errors[0].message
    assert "(0 given)" in exc.errors[0].message


def test_two_contexts_is_ambiguous():
    exc = refused(contexts={ContextKind.STUDY: "S1", ContextKind.STUDY_SITE: "SS1"})
    assert codes(exc) == ["CONTEXT_AMBIGUOUS"]
    assert "(2 given)" in exc.errors[0].message


def test_completed_in_the_future_is_refused():
    exc = refused(day=TODAY + timedelta(days=1), completed=True)
    assert codes(exc) == ["COMPLETED_IN_FUTURE"]
    assert exc.errors[0].field == ("input", "completed")
    assert "2025-06-16" in exc.errors[0].message
    assert "cannot be completed" in exc.errors[0].message


@pytest.mark.parametrize("day", [TODAY, TODAY - timedelta(days=1), date(2000, 1, 1)])
def test_completed_today_or_in_the_past_is_accepted(day):
    assert new(day=day, completed=True).completed is True


@pytest.mark.parametrize("day", [TODAY + timedelta(days=1), date(2099, 12, 31)])
def test_planned_in_the_future_is_accepted(day):
    assert new(day=day, completed=False).date == day


def test_subject_at_the_limit_is_accepted():
    assert new(subject="x" * SUBJECT_MAX).subject == "x" * SUBJECT_MAX


def test_no_subject_is_accepted():
    assert new(subject=None).subject is None


def test_subject_too_long_is_refused():
    exc = refused(subject="x" * (SUBJECT_MAX + 1))
    assert codes(exc) == ["TOO_LONG"]
    assert exc.errors[0].field == ("input", "subject")
    assert "longer than 255" in exc.errors[0].message


@pytest.mark.parametrize("key", [None, "k", "k" * IDEMPOTENCY_KEY_MAX])
def test_idempotency_key_within_limits_is_accepted(key):
    assert new(idempotency_key=key).person_id == "P1"


@pytest.mark.parametrize("key", ["", "k" * (IDEMPOTENCY_KEY_MAX + 1)])
def test_idempotency_key_out_of_limits_is_refused(key):
    exc = refused(idempotency_key=key)
    assert codes(exc) == ["INVALID"]
    assert exc.errors[0].field == ("input", "idempotencyKey")
    assert "1 to 128 characters" in exc.errors[0].message


def test_every_error_is_reported_at_once():
    exc = refused(
        person_id=None,
        contexts={ContextKind.STUDY: "S1", ContextKind.STUDY_COUNTRY: "C1"},
        day=TODAY + timedelta(days=3),
        completed=True,
        subject="x" * 300,
        idempotency_key="",
    )
    assert codes(exc) == ["PERSON_REQUIRED", "CONTEXT_AMBIGUOUS", "COMPLETED_IN_FUTURE", "TOO_LONG", "INVALID"]
    assert str(exc) == "; ".join(e.message for e in exc.errors)


def test_update_accepts_valid_merged_state():
    assert validate_update(day=TODAY + timedelta(days=5), completed=False, subject="ok", today=TODAY) is None
    assert validate_update(day=TODAY, completed=True, subject=None, today=TODAY) is None


def test_update_refuses_completing_a_future_activity():
    with pytest.raises(ValidationFailed) as info:
        validate_update(day=TODAY + timedelta(days=1), completed=True, subject=None, today=TODAY)
    assert codes(info.value) == ["COMPLETED_IN_FUTURE"]


def test_update_reports_every_error_at_once():
    with pytest.raises(ValidationFailed) as info:
        validate_update(day=TODAY + timedelta(days=1), completed=True, subject="x" * 256, today=TODAY)
    assert codes(info.value) == ["COMPLETED_IN_FUTURE", "TOO_LONG"]


@pytest.mark.parametrize("subject", ["nul\x00byte", "bell\x07", "del\x7f"])
def test_subject_with_control_characters_is_refused(subject: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_update(day=date(2026, 1, 1), completed=False, subject=subject, today=date(2026, 1, 2))
    assert [(e.field, e.code) for e in exc.value.errors] == [(("input", "subject"), "INVALID")]


def test_subject_may_hold_tabs_newlines_and_any_script() -> None:
    validate_update(day=date(2026, 1, 1), completed=False, subject="Ωmega 🚀\tline\nnext\r", today=date(2026, 1, 2))
