"""Row cursors of the gateway's own lists: they round-trip, and one of another list or damaged is BAD_USER_INPUT."""

from __future__ import annotations

import base64
import json

import pytest

from resolvers.cursors import cursor_row, id_cursor, row_cursor
from resolvers.errors import BadInput


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_row_cursor_round_trips() -> None:
    assert cursor_row("audit", row_cursor("audit", 42)) == 42
    assert cursor_row("audit", None) is None


@pytest.mark.parametrize("cursor", [
    row_cursor("failed", 42),  # another list's
    id_cursor("audit", "0PE000000000001"),  # a record id, not a row
    _forged({"v": 1, "t": "audit", "row": -1}), _forged({"v": 1, "t": "audit", "row": "7"}),
    _forged({"v": 1, "t": "audit", "row": True}), _forged({"v": 2, "t": "audit", "row": 7}), "!!", "",
])
def test_a_cursor_of_another_list_or_damaged_is_refused(cursor: str) -> None:
    with pytest.raises(BadInput):
        cursor_row("audit", cursor)
