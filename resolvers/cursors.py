"""Opaque cursors: a timeline position or a list offset, versioned and checked on the way in."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date

import orjson

from datasources.record_ids import is_record_id
from domain.timeline import Position
from resolvers.errors import BadInput


def _pack(payload: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _unpack(cursor: str, kind: str) -> dict:
    problem = BadInput(f"after: {cursor[:40]!r} is not a cursor of this list", field="after")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= 500:
        raise problem
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise problem from None
    if not isinstance(payload, dict) or payload.get("v") != 1 or payload.get("t") != kind:
        raise problem
    return payload


def timeline_cursor(position: Position) -> str:
    return _pack({"v": 1, "t": "tl", "d": position.date.isoformat(), "k": position.key})


def timeline_position(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    payload = _unpack(cursor, "tl")
    try:
        day = date.fromisoformat(payload["d"])
        key = payload["k"]
        if not isinstance(key, str):
            raise ValueError
        source, _, record = key.rpartition(":")
        # The record id is sent to its source to resume after it: it must be one.
        if not source or not is_record_id(record):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise BadInput("after: the cursor is damaged", field="after") from None
    return Position(day, key)


def id_cursor(kind: str, record_id: str) -> str:
    return _pack({"v": 1, "t": kind, "id": record_id})


def cursor_id(kind: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    record_id = _unpack(cursor, kind).get("id")
    if not is_record_id(record_id):
        raise BadInput("after: the cursor is damaged", field="after")
    return record_id


def row_cursor(kind: str, row_id: int) -> str:
    """A position in one of the gateway's own tables, by row id."""
    return _pack({"v": 1, "t": kind, "row": row_id})


def cursor_row(kind: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    row_id = _unpack(cursor, kind).get("row")
    if not isinstance(row_id, int) or isinstance(row_id, bool) or row_id < 1:
        raise BadInput("after: the cursor is damaged", field="after")
    return row_id
