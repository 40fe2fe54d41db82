"""Validation of clinical activity input: one person, one context, no completed future activity, text sizes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.channels import Channel
from domain.errors import UserError, ValidationFailed
from domain.models import ContextKind, ContextRef

SUBJECT_MAX = 255
IDEMPOTENCY_KEY_MAX = 128


@dataclass(frozen=True)
class NewClinicalActivity:
    person_id: str
    context: ContextRef
    date: date
    channel: Channel
    completed: bool
    subject: str | None


def _check_subject(subject: str | None, errors: list[UserError]) -> None:
    if subject is not None and len(subject) > SUBJECT_MAX:
        errors.append(UserError(("input", "subject"), f"subject is longer than {SUBJECT_MAX} characters",
                                "TOO_LONG"))
    if subject is not None and any(ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in subject):
        errors.append(UserError(("input", "subject"), "subject contains control characters", "INVALID"))


def _check_completed_date(completed: bool, day: date, today: date, errors: list[UserError]) -> None:
    if completed and day > today:
        errors.append(UserError(
            ("input", "completed"),
            f"an activity dated in the future ({day.isoformat()}) cannot be completed; plan it instead",
            "COMPLETED_IN_FUTURE"))


def validate_new_activity(
    *,
    person_id: str | None,
    contexts: dict[ContextKind, str | None],
    day: date,
    channel: Channel,
    completed: bool,
    subject: str | None,
    today: date,
    idempotency_key: str | None = None,
) -> NewClinicalActivity:
    """Return the activity to write, or raise ValidationFailed with every problem found."""
    errors: list[UserError] = []
    if not person_id:
        errors.append(UserError(("input", "personId"), "an activity must reference exactly one person",
                                "PERSON_REQUIRED"))
    given = [(kind, value) for kind, value in contexts.items() if value]
    if len(given) != 1:
        errors.append(UserError(
            ("input", "context"),
            "an activity is logged against exactly one of a study, study country, study site or study personnel "
            f"record ({len(given)} given)",
            "CONTEXT_REQUIRED" if not given else "CONTEXT_AMBIGUOUS"))
    _check_completed_date(completed, day, today, errors)
    _check_subject(subject, errors)
    if idempotency_key is not None and not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
        errors.append(UserError(("input", "idempotencyKey"),
                                f"idempotencyKey must be 1 to {IDEMPOTENCY_KEY_MAX} characters", "INVALID"))
    if errors:
        raise ValidationFailed(errors)
    kind, value = given[0]
    assert person_id is not None and value is not None
    return NewClinicalActivity(person_id, ContextRef(kind, value), day, channel, completed, subject)


def validate_update(*, day: date, completed: bool, subject: str | None, today: date) -> None:
    """Check an activity as it will be after an update (its merged date, completion and subject)."""
    errors: list[UserError] = []
    _check_completed_date(completed, day, today, errors)
    _check_subject(subject, errors)
    if errors:
        raise ValidationFailed(errors)
