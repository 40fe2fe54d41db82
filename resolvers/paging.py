"""Bounds of `first` on every list."""

from __future__ import annotations

from domain.timeline import FIRST_DEFAULT, FIRST_MAX
from resolvers.errors import BadInput


def check_first(first: int | None, default: int = FIRST_DEFAULT) -> int:
    if first is None:
        return default
    if first < 1 or first > FIRST_MAX:
        raise BadInput(f"first must be between 1 and {FIRST_MAX} (got {first})", field="first")
    return first
