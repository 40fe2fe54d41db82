"""Problems the caller can fix, each with the input field at fault and a stable code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UserError:
    field: tuple[str, ...] | None
    message: str
    code: str


class ValidationFailed(Exception):
    """Raised with every user error found, so that nothing is written."""

    def __init__(self, errors: list[UserError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors
