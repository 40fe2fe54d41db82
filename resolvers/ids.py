"""Relay global ids ("Type:raw id", base64url): encoding, decoding, and checks of the raw backend ids inside."""

from __future__ import annotations

import base64
import binascii
import re

from domain import UserError
from resolvers.errors import BadInput

RAW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:.\-]{0,119}$")


def to_global(type_name: str, raw: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


def from_global(value: str) -> tuple[str, str] | None:
    """Decode a global id, or None when it is not one."""
    if not isinstance(value, str) or not 0 < len(value) <= 400:
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, raw = text.partition(":")
    if not sep or not type_name.isidentifier() or not RAW_ID.match(raw):
        return None
    return type_name, raw


def raw_id(value: str, type_name: str, field: str = "id") -> str:
    """The backend id inside a global id of the expected type (a bare backend id is accepted too)."""
    decoded = from_global(value)
    if decoded is not None:
        found, raw = decoded
        if found != type_name:
            raise BadInput(f"{field}: expected a {type_name} id, got a {found} id", field=field)
        return raw
    if isinstance(value, str) and RAW_ID.match(value) and ":" not in value:
        return value
    raise BadInput(f"{field}: {value[:60]!r} is not a valid {type_name} id", field=field)


def decode_id(value: str | None, type_name: str, path: list[str], errors: list[UserError]) -> str | None:
    """The raw id of an input's global id, or None (an error added to `errors`) when it is not one of that type."""
    if value is None:
        return None
    try:
        return raw_id(value, type_name)
    except BadInput as exc:
        errors.append(UserError(tuple(path), exc.message.replace("id: ", f"{path[-1]}: ", 1), "INVALID_ID"))
        return None
